using Microsoft.ML.OnnxRuntime;
using NormSharp.Autograd;
using NormSharp.Nn;
using NormSharp.Onnx.Protobuf;
using static NormSharp.Onnx.Tests.OnnxRuntimeCheck;

namespace NormSharp.Onnx.Tests;

/// <summary>The file itself (opset, IR version, symbolic batch, atomic save) and the typed errors of bad requests.</summary>
public class ExportContractTests
{
    [Theory]
    [InlineData(15, 8)]
    [InlineData(17, 8)]
    [InlineData(18, 8)]
    [InlineData(20, 9)]
    [InlineData(21, 10)]
    [InlineData(23, 11)]
    public void File_states_opset_and_ir_version(int opset, int irVersion)
    {
        var model = ExportAndCompare(new Sequential(new Linear(4, 3, generator: new Generator(0)), new GELU()), [2, 4], new OnnxExportOptions { Opset = opset });
        Assert.Equal(irVersion, model.IrVersion);
        var import = Assert.Single(model.OpsetImport);
        Assert.Equal("", import.Domain);
        Assert.Equal(opset, import.Version);
        Assert.Equal("NormSharp", model.ProducerName);
    }

    [Fact]
    public void Default_export_is_opset_17_ir_8_with_a_symbolic_batch_dimension()
    {
        var bytes = OnnxExport.Export(new Linear(4, 3).Eval(), Tensor.Zeros(2, 4));
        var model = ModelProto.Parser.ParseFrom(bytes);
        Assert.Equal(17, model.OpsetImport[0].Version);
        Assert.Equal(8, model.IrVersion);
        var input = Assert.Single(model.Graph.Input);
        Assert.Equal("input", input.Name);
        Assert.Equal("N", input.Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(4, input.Type.TensorType.Shape.Dim[1].DimValue);
        var output = Assert.Single(model.Graph.Output);
        Assert.Equal("output", output.Name);
        Assert.Equal("N", output.Type.TensorType.Shape.Dim[0].DimParam);
        using var session = new InferenceSession(bytes);
        Assert.Equal("N", session.InputMetadata["input"].SymbolicDimensions[0]);
    }

    [Fact]
    public void Save_writes_a_file_onnx_runtime_loads_by_path()
    {
        var directory = Directory.CreateTempSubdirectory("normsharp-onnx-");
        try
        {
            var path = Path.Combine(directory.FullName, "model.onnx");
            var model = WithStatistics(new Sequential(new Linear(5, 4, generator: new Generator(1)), new BatchNorm1d(4), new ReLU()));
            model.Eval();
            OnnxExport.Save(model, Tensor.Zeros(1, 5), path);
            Assert.Equal([path], Directory.GetFiles(directory.FullName));
            var input = Tensor.Randn(new Generator(2), 6, 5);
            using var session = new InferenceSession(path, new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL });
            var (actual, shape) = Run(session, input);
            Tensor expected;
            using (new NoGrad())
            {
                expected = model.Forward(input);
            }
            Assert.Equal([6, 4], shape);
            AssertClose(expected.ToArray(), actual, "saved model");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Readme_snippet_runs_the_saved_cnn()
    {
        var directory = Directory.CreateTempSubdirectory("normsharp-onnx-");
        try
        {
            var path = Path.Combine(directory.FullName, "model.onnx");   // the README writes "model.onnx"; tests keep the working directory
            var model = WithStatistics(NormSharp.Cli.Experiments.Models.Create(
                NormSharp.Cli.Experiments.ModelKind.Cnn, NormSharp.Cli.Experiments.NormKind.Batch, [1, 28, 28], 10, new Generator(3)));
            // As in README.md, section "ONNX export".
            model.Eval();
            OnnxExport.Save(model, Tensor.Zeros(1, 1, 28, 28), path);
            using var session = new InferenceSession(path);
            float[] images = new float[8 * 28 * 28];
            new Generator(4).FillNormal(images);
            using var input = OrtValue.CreateTensorValueFromMemory(images, new long[] { 8, 1, 28, 28 });
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, ["input"], [input], ["output"]);
            ReadOnlySpan<float> logits = outputs[0].GetTensorDataAsSpan<float>();

            Tensor expected;
            using (new NoGrad())
            {
                expected = model.Forward(Tensor.FromArray(images, 8, 1, 28, 28));
            }
            AssertClose(expected.ToArray(), logits.ToArray(), "README snippet");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Model_in_training_mode_is_refused()
    {
        var model = new Sequential(new Linear(4, 3), new BatchNorm1d(3));
        var error = Assert.Throws<InvalidOperationException>(() => OnnxExport.Export(model, Tensor.Zeros(2, 4)));
        Assert.Contains("training mode", error.Message, StringComparison.Ordinal);
        Assert.Contains("Eval()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Module_left_in_training_mode_is_named()
    {
        var model = new Sequential(new Linear(4, 3), new BatchNorm1d(3));
        model.Eval();
        model[1].Train();
        var error = Assert.Throws<InvalidOperationException>(() => OnnxExport.Export(model, Tensor.Zeros(2, 4)));
        Assert.Contains("'1' (BatchNorm1d)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sample_input_of_the_wrong_shape_is_refused_with_both_shapes()
    {
        var model = new Sequential(new Conv2d(3, 4, 3), new BatchNorm2d(4)).Eval();
        var error = Assert.Throws<ArgumentException>(() => OnnxExport.Export(model, Tensor.Zeros(2, 1, 8, 8)));
        Assert.Equal("sampleInput", error.ParamName);
        Assert.Contains("[2, 1, 8, 8]", error.Message, StringComparison.Ordinal);
        Assert.Contains("3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scalar_sample_input_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => OnnxExport.Export(new ReLU().Eval(), Tensor.Scalar(1f)));
        Assert.Contains("batch dimension", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_operation_names_the_operation_and_the_module_path()
    {
        var model = new Sequential(new Linear(4, 3), new Sequential(new ReLU(), new SoftmaxHead())).Eval();
        var error = Assert.Throws<NotSupportedException>(() => OnnxExport.Export(model, Tensor.Zeros(2, 4)));
        Assert.Contains("'Exp'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'1.1'", error.Message, StringComparison.Ordinal);
        Assert.Contains("SoftmaxHead", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parameter_used_outside_its_layer_is_not_taken_for_the_layer()
    {
        var exported = ExportAndCompare(new Sequential(new BiasGated()), [3, 4]);
        Assert.Equal(["Gemm", "Mul", "Add", "Identity"], OpTypes(exported));
    }

    [Theory]
    [InlineData(14)]
    [InlineData(24)]
    public void Opset_outside_the_written_range_is_refused(int opset)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => OnnxExport.Export(new ReLU().Eval(), Tensor.Zeros(2, 4), new OnnxExportOptions { Opset = opset }));
        Assert.Contains("15 to 23", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Identity_model_still_has_a_named_output()
    {
        ExportAndCompare(new Dropout(0.3), [3, 4]);
    }

    /// <summary>Uses a layer's bias in an operation of its own (input · bias): only the Linear operation is the layer's forward.</summary>
    private sealed class BiasGated : Module
    {
        private readonly Linear linear;

        public BiasGated() => linear = RegisterModule("linear", new Linear(4, 4, generator: new Generator(5)));

        public override Tensor Forward(Tensor input) => linear.Forward(input) + input * linear.Bias!;
    }

    /// <summary>A custom module using an operation the exporter does not map.</summary>
    private sealed class SoftmaxHead : Module
    {
        public override Tensor Forward(Tensor input) => input.Exp();
    }
}
