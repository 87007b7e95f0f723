using NormSharp.Nn;
using static TorchSharp.torch;

namespace NormSharp.Oracle;

/// <summary>LayerNorm and RMSNorm with an empty normalizedShape throw, as libtorch's layer_norm (and ATen's rms_norm) do.</summary>
[Collection(LibTorchCollection.Name)]
public class NormalizedShapeOracleTests
{
    [Fact]
    public void LayerNorm_and_RMSNorm_with_an_empty_normalized_shape_throw_as_libtorch()
    {
        var check = new OracleCase("LayerNorm bad input", "normalizedShape []");
        var layerNorm = check.BothThrow("LayerNorm with normalizedShape []",
            () => new LayerNorm([]).Forward(Tensor.Zeros(2, 3)),
            () => nn.LayerNorm(Array.Empty<long>()).forward(zeros(2, 3)));
        Assert.IsType<ArgumentException>(layerNorm);
        Assert.Contains("normalizedShape []", layerNorm.Message, StringComparison.Ordinal);
        Assert.Contains("[2, 3]", layerNorm.Message, StringComparison.Ordinal);
        // TorchSharp 0.107 does not bind rms_norm; ATen's rms_norm runs the same check (_check_rms_norm_inputs:
        // "Expected normalized_shape to be at least 1-dimensional").
        var rmsNorm = Assert.ThrowsAny<ArgumentException>(() => new RMSNorm([]).Forward(Tensor.Zeros(2, 3)));
        Assert.IsType<ArgumentException>(rmsNorm);
        Assert.Contains("normalizedShape []", rmsNorm.Message, StringComparison.Ordinal);
    }
}
