using Microsoft.ML.OnnxRuntime;
using NormSharp.Autograd;
using NormSharp.Nn;
using NormSharp.Onnx.Protobuf;

namespace NormSharp.Onnx.Tests;

/// <summary>
/// Runs exported models in ONNX Runtime (loader with every graph optimization on) and compares them with NormSharp's
/// evaluation output: ‖onnx − normsharp‖∞ ≤ 1e-5 · ‖normsharp‖∞, at the export batch size and at another.
/// </summary>
internal static class OnnxRuntimeCheck
{
    /// <summary>The tolerance relative to the largest output magnitude.</summary>
    public const double Tolerance = 1e-5;

    /// <summary>
    /// Exports <paramref name="model"/> (put in evaluation mode) with a random sample of <paramref name="sampleShape"/>,
    /// then checks ONNX Runtime against <c>model.Forward</c> on fresh inputs at that batch size and at
    /// <paramref name="otherBatch"/>. Returns the parsed model for structural checks.
    /// </summary>
    public static ModelProto ExportAndCompare(Module model, int[] sampleShape, OnnxExportOptions? options = null, int otherBatch = 5, int seed = 0)
    {
        model.Eval();
        var generator = new Generator(seed);
        var bytes = OnnxExport.Export(model, Tensor.Randn(generator, sampleShape), options);
        foreach (int batch in new[] { sampleShape[0], otherBatch })
        {
            int[] shape = [batch, .. sampleShape[1..]];
            var input = Tensor.Randn(generator, shape);
            Tensor expected;
            using (new NoGrad())
            {
                expected = model.Forward(input);
            }
            var (actual, actualShape) = Run(bytes, input);
            Assert.Equal(expected.Shape, actualShape);
            AssertClose(expected.ToArray(), actual, $"{model.GetType().Name} at batch {batch}");
        }
        return ModelProto.Parser.ParseFrom(bytes);
    }

    /// <summary>Runs the model in <paramref name="onnxModel"/> on <paramref name="input"/>; returns the first output's values and shape.</summary>
    public static (float[] Values, int[] Shape) Run(byte[] onnxModel, Tensor input)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(onnxModel, options);
        return Run(session, input);
    }

    /// <summary>Runs <paramref name="session"/> on <paramref name="input"/>.</summary>
    public static (float[] Values, int[] Shape) Run(InferenceSession session, Tensor input)
    {
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input.ToArray(), input.Shape.Select(d => (long)d).ToArray());
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, session.InputNames, [inputValue], session.OutputNames);
        var output = outputs[0];
        var shape = output.GetTensorTypeAndShape().Shape.Select(d => (int)d).ToArray();
        return (output.GetTensorDataAsSpan<float>().ToArray(), shape);
    }

    /// <summary>Fails unless ‖actual − expected‖∞ ≤ <see cref="Tolerance"/> · ‖expected‖∞ (and the lengths agree).</summary>
    public static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 0, worst = 0;
        int worstIndex = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            double difference = Math.Abs((double)actual[i] - expected[i]);
            if (!(difference <= worst))
            {
                (worst, worstIndex) = (difference, i);
            }
        }
        double relative = worst / Math.Max(scale, 1e-30);
        Assert.True(relative <= Tolerance,
            $"{what}: max |onnx − normsharp| = {worst:G3} at {worstIndex} (onnx {actual[worstIndex]}, normsharp {expected[worstIndex]}), "
            + $"{relative:G3} of max |normsharp| = {scale:G3}; tolerance {Tolerance:G3}.");
    }

    /// <summary>The op types of the model's nodes, in order.</summary>
    public static string[] OpTypes(ModelProto model) => [.. model.Graph.Node.Select(n => n.OpType)];

    /// <summary>
    /// Gives every normalization layer in <paramref name="model"/> non-trivial affine parameters and running
    /// statistics (mean ~ N(0, 1), variance in [0.5, 2]), as after training, so that an export that ignored them fails.
    /// </summary>
    public static T WithStatistics<T>(T model, int seed = 1)
        where T : Module
    {
        var generator = new Generator(seed);
        foreach (var module in model.Modules())
        {
            switch (module)
            {
                case NormBase norm:
                    Randomize(norm.Weight, norm.Bias, generator);
                    if (norm.RunningMean is not null)
                    {
                        generator.FillNormal(norm.RunningMean.AsSpan());
                        generator.FillUniform(norm.RunningVar!.AsSpan(), 0.5, 2);
                    }
                    break;
                case LayerNorm layerNorm:
                    Randomize(layerNorm.Weight, layerNorm.Bias, generator);
                    break;
                case GroupNorm groupNorm:
                    Randomize(groupNorm.Weight, groupNorm.Bias, generator);
                    break;
                case RMSNorm rmsNorm:
                    Randomize(rmsNorm.Weight, null, generator);
                    break;
            }
        }
        return model;
    }

    private static void Randomize(Tensor? weight, Tensor? bias, Generator generator)
    {
        if (weight is not null)
        {
            generator.FillUniform(weight.AsSpan(), 0.5, 1.5);
        }
        if (bias is not null)
        {
            generator.FillNormal(bias.AsSpan(), 0, 0.5);
        }
    }
}
