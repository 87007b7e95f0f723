using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// The common shape of a stateless differential case: the same leaves on both sides, one forward
/// each, the same random upstream gradient g backpropagated through both (L = Σ y·g, never all ones),
/// then the output and the gradient of every leaf that requires one are compared.
/// </summary>
internal static class Differential
{
    /// <summary>
    /// Runs <paramref name="normSharp"/> on <paramref name="leaves"/> and <paramref name="libTorch"/> on
    /// libtorch copies of them; compares output and gradients (named by <paramref name="names"/>).
    /// </summary>
    public static void ForwardBackward(
        OracleCase check, Inputs inputs, Tensor[] leaves, string[] names,
        Func<Tensor[], Tensor> normSharp, Func<TorchTensor[], TorchTensor> libTorch)
    {
        using var scope = NewDisposeScope();
        // The asserted reference in float64, and the same computation in float32 for the report.
        var torchLeaves = leaves.Select(t => LibTorch.From(t, t.RequiresGrad, OracleCase.OracleType)).ToArray();
        var float32Leaves = leaves.Select(t => LibTorch.From(t, t.RequiresGrad, ScalarType.Float32)).ToArray();
        foreach (var leaf in leaves)
        {
            leaf.Grad = null;
        }

        var output = normSharp(leaves);
        var expected = libTorch(torchLeaves);
        var float32 = libTorch(float32Leaves);
        check.Close("output", output, expected, float32);

        if (!leaves.Any(t => t.RequiresGrad))
        {
            return;
        }
        var upstream = inputs.Randn(output.Shape);
        output.Backward(upstream);
        expected.backward([LibTorch.From(upstream, dtype: OracleCase.OracleType)]);
        float32.backward([LibTorch.From(upstream, dtype: ScalarType.Float32)]);
        for (int i = 0; i < leaves.Length; i++)
        {
            if (leaves[i].RequiresGrad)
            {
                check.Close("grad " + names[i], leaves[i].Grad, torchLeaves[i].grad, float32Leaves[i].grad);
            }
        }
    }

    /// <summary>Parses "2x3x4" into [2, 3, 4]; "" or "scalar" is shape [].</summary>
    public static int[] Shape(string text) =>
        text is "" or "scalar" ? [] : text.Split('x').Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Marks a tensor as a leaf that requires gradients and returns it.</summary>
    public static Tensor Leaf(Tensor tensor)
    {
        tensor.RequiresGrad = true;
        return tensor;
    }
}
