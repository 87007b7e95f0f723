using NormSharp.Cli.Experiments;
using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;
using static NormSharp.Onnx.Tests.OnnxRuntimeCheck;

namespace NormSharp.Onnx.Tests;

/// <summary>
/// Whole models in ONNX Runtime: the demo's MLP and CNN after a few training steps (running statistics moved by
/// training), a residual block (a custom module traced through its operations), a channels-last model and models
/// with BatchNorm folded into the layer before it.
/// </summary>
public class ModelExportTests
{
    [Theory]
    [InlineData("mlp", "batch")]
    [InlineData("paper-mlp", "batch")]
    [InlineData("cnn", "batch")]
    [InlineData("cnn", "group")]
    [InlineData("cnn", "layer")]
    [InlineData("cnn", "instance")]
    public void Demo_model_after_training_runs_in_onnx_runtime(string kind, string norm)
    {
        var model = Trained(Models.Create(Choices.ParseModel(kind), Choices.ParseNorm(norm), [1, 28, 28], 10, new Generator(0)));
        var exported = ExportAndCompare(model, [3, 1, 28, 28], otherBatch: 7);
        if (norm == "batch")
        {
            Assert.Contains("BatchNormalization", OpTypes(exported));
        }
    }

    [Fact]
    public void Folded_demo_cnn_has_no_batch_normalization_and_matches()
    {
        var model = Trained(Models.Create(ModelKind.Cnn, NormKind.Batch, [1, 28, 28], 10, new Generator(0)));
        var exported = ExportAndCompare(model, [2, 1, 28, 28], new OnnxExportOptions { FoldBatchNorm = true });
        Assert.DoesNotContain("BatchNormalization", OpTypes(exported));
        Assert.Equal(["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Identity"], OpTypes(exported));
    }

    [Fact]
    public void Folding_keeps_the_batch_norms_it_cannot_fold()
    {
        // Channels-last batch norm after a convolution normalizes the width axis, not the conv's channels; the
        // BatchNorm1d after the linear layer normalizes axis 1 of (N, 4, 3), not its features.
        var model = WithStatistics(new Sequential(
            new Conv2d(2, 4, 3, padding: 1, generator: new Generator(5)), new BatchNorm2d(6, channelAxis: -1), new ReLU(),
            new Flatten(2), new Linear(30, 3, generator: new Generator(6)), new BatchNorm1d(4), new Flatten()));
        var exported = ExportAndCompare(model, [2, 2, 5, 6], new OnnxExportOptions { FoldBatchNorm = true });
        Assert.Equal(2, OpTypes(exported).Count(op => op == "BatchNormalization"));
    }

    [Fact]
    public void Residual_network_runs_in_onnx_runtime()
    {
        var model = WithStatistics(new Sequential(
            new Conv2d(3, 8, 3, padding: 1, bias: false, generator: new Generator(7)), new BatchNorm2d(8), new ReLU(),
            new ResidualBlock(8, new Generator(8)), new ResidualBlock(8, new Generator(9)),
            new AvgPool2d(6), new Flatten(), new Linear(8, 4, generator: new Generator(10))));
        var exported = ExportAndCompare(model, [2, 3, 6, 6]);
        Assert.Equal(2, OpTypes(exported).Count(op => op == "Add"));
        Assert.Contains("GlobalAveragePool", OpTypes(exported));
        // Nodes are named by module path, initializers by state-dict key.
        Assert.Contains(exported.Graph.Initializer, t => t.Name == "3.norm1.running_mean");
    }

    [Fact]
    public void Residual_block_folds_nothing_and_still_matches_with_folding_on()
    {
        var model = WithStatistics(new Sequential(new ResidualBlock(4, new Generator(11))));
        ExportAndCompare(model, [2, 4, 5, 5], new OnnxExportOptions { FoldBatchNorm = true });
    }

    [Fact]
    public void Custom_module_with_reshape_permute_scale_and_layers_runs_in_onnx_runtime()
    {
        var model = WithStatistics(new Sequential(new ChannelsLastHead(new Generator(12))));
        var exported = ExportAndCompare(model, [2, 3, 4, 5]);
        Assert.Contains("Transpose", OpTypes(exported));
        Assert.Contains("Reshape", OpTypes(exported));
    }

    [Fact]
    public void Custom_module_with_stateless_layers_of_different_settings_runs_in_onnx_runtime()
    {
        var model = new Sequential(new PoolingStem(new Generator(15)));
        var exported = ExportAndCompare(WithStatistics(model), [2, 2, 8, 8]);
        Assert.Equal(2, OpTypes(exported).Count(op => op == "MaxPool"));
        Assert.Contains("LayerNormalization", OpTypes(exported));
    }

    [Fact]
    public void Pooling_called_directly_with_settings_no_layer_has_is_refused()
    {
        var model = new Sequential(new DirectPooling()).Eval();
        var error = Assert.Throws<NotSupportedException>(() => OnnxExport.Export(model, Tensor.Zeros(2, 2, 8, 8)));
        Assert.Contains("'MaxPool2d' in module '0' (DirectPooling)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Channels_last_batch_norm_model_runs_in_onnx_runtime()
    {
        // Keras layout: images (N, H, W, C), batch norm over the last axis, then a dense head.
        var model = WithStatistics(new Sequential(
            new BatchNorm2d(3, channelAxis: -1), new Flatten(), new Linear(4 * 5 * 3, 6, generator: new Generator(13)),
            new BatchNorm1d(6, channelAxis: -1), new GELU(), new Linear(6, 2, generator: new Generator(14))));
        ExportAndCompare(model, [2, 4, 5, 3], otherBatch: 9);
    }

    /// <summary>A few Adam steps on random data in training mode: weights and running statistics move away from their initial values.</summary>
    private static Sequential Trained(Sequential model)
    {
        var generator = new Generator(21);
        var optimizer = new Adam(model.Parameters(), 1e-3);
        model.Train();
        for (int step = 0; step < 3; step++)
        {
            var images = Tensor.Randn(generator, 16, 1, 28, 28) * 0.5f + 0.3f;
            var labels = Enumerable.Range(0, 16).Select(_ => generator.NextInt(10)).ToArray();
            optimizer.ZeroGrad();
            F.CrossEntropy(model.Forward(images), labels).Backward();
            optimizer.Step();
        }
        foreach (var norm in model.Modules().OfType<BatchNormBase>())
        {
            Assert.Equal(3, norm.NumBatchesTracked);
            Assert.NotEqual(0f, norm.RunningMean!.AsSpan()[0]);
        }
        return model;
    }

    /// <summary>relu(bn2(conv2(relu(bn1(conv1(x))))) + x), the basic block of a ResNet.</summary>
    private sealed class ResidualBlock : Module
    {
        private readonly Conv2d conv1, conv2;
        private readonly BatchNorm2d norm1, norm2;

        public ResidualBlock(int channels, Generator generator)
        {
            conv1 = RegisterModule("conv1", new Conv2d(channels, channels, 3, padding: 1, bias: false, generator: generator));
            norm1 = RegisterModule("norm1", new BatchNorm2d(channels));
            conv2 = RegisterModule("conv2", new Conv2d(channels, channels, 3, padding: 1, bias: false, generator: generator));
            norm2 = RegisterModule("norm2", new BatchNorm2d(channels));
        }

        public override Tensor Forward(Tensor input) =>
            (norm2.Forward(conv2.Forward(norm1.Forward(conv1.Forward(input)).Relu())) + input).Relu();
    }

    /// <summary>conv → max pool 3/1/1 → layer norm without affine over (C, H, W) → max pool 2, the pools told apart by what they compute.</summary>
    private sealed class PoolingStem : Module
    {
        private readonly Conv2d conv;
        private readonly MaxPool2d samePool, halfPool;
        private readonly LayerNorm norm;

        public PoolingStem(Generator generator)
        {
            conv = RegisterModule("conv", new Conv2d(2, 3, 3, padding: 1, generator: generator));
            halfPool = RegisterModule("halfPool", new MaxPool2d(2));
            samePool = RegisterModule("samePool", new MaxPool2d(3, stride: 1, padding: 1));
            norm = RegisterModule("norm", new LayerNorm([3, 8, 8], elementwiseAffine: false));
        }

        public override Tensor Forward(Tensor input) => halfPool.Forward(norm.Forward(samePool.Forward(conv.Forward(input))));
    }

    /// <summary>Calls F.MaxPool2d with settings of its own: the operation alone does not say them.</summary>
    private sealed class DirectPooling : Module
    {
        private readonly MaxPool2d pool = new(2);

        public DirectPooling() => RegisterModule("pool", pool);

        public override Tensor Forward(Tensor input) => F.MaxPool2d(pool.Forward(input) * 1f, 3, 1, 1);
    }

    /// <summary>(N, C, H, W) → channels last → layer norm over C → scaled → reshaped to (N, H·W, C) → linear, with a constant offset.</summary>
    private sealed class ChannelsLastHead : Module
    {
        private readonly LayerNorm norm;
        private readonly Linear linear;
        private readonly Tensor offset;

        public ChannelsLastHead(Generator generator)
        {
            norm = RegisterModule("norm", new LayerNorm([3]));
            linear = RegisterModule("linear", new Linear(3, 2, generator: generator));
            offset = Tensor.Randn(generator, 2);
        }

        public override Tensor Forward(Tensor input)
        {
            var channelsLast = input.Permute(0, 2, 3, 1);
            var normalized = norm.Forward(channelsLast) * 2f;
            var rows = normalized.Reshape(input.Size(0), -1, 3);
            return (linear.Forward(rows) - offset).Sigmoid();
        }
    }
}
