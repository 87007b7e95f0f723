using System.Numerics.Tensors;
using NormSharp.Kernels;

namespace NormSharp.Tests;

/// <summary>The ReLU kernels (forward with its positive mask, backward from the mask) against the scalar reference.</summary>
public class ActivationTests
{
    // Normal values with exact zeros of both signs, NaNs and infinities sprinkled in.
    private static float[] Inputs(int seed, int length)
    {
        var values = new float[length];
        new Generator(seed).FillNormal(values);
        float[] specials = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon];
        for (int i = 0; i < length; i += 5)
        {
            values[i] = specials[i / 5 % specials.Length];
        }
        return values;
    }

    private static IEnumerable<SimdWidth> VectorWidths() => new[] { SimdWidth.Vector256, SimdWidth.Vector512 }.Where(Simd.IsSupported);

    [Fact]
    public void Forward_vector_paths_match_the_reference_and_TensorPrimitives_on_lengths_0_to_257()
    {
        foreach (var width in VectorWidths())
        {
            for (int length = 0; length <= 257; length++)
            {
                var x = Inputs(length, length);
                var (expected, expectedMask) = Forward(x, SimdWidth.Scalar);
                var (actual, actualMask) = Forward(x, width);
                Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
                Assert.Equal(expectedMask, actualMask);
                // The values are TensorPrimitives.Max(x, 0) bit for bit (NaN stays, −0 gives +0), the mask is x > 0.
                var max = new float[length];
                TensorPrimitives.Max(x, 0f, max);
                Assert.Equal(max.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
                for (int i = 0; i < length; i++)
                {
                    Assert.Equal(x[i] > 0, (actualMask[i / 8] & (1 << (i % 8))) != 0);
                }
            }
        }
    }

    [Fact]
    public void Backward_vector_paths_match_the_reference_on_lengths_0_to_257()
    {
        foreach (var width in VectorWidths())
        {
            for (int length = 0; length <= 257; length++)
            {
                var (_, mask) = Forward(Inputs(length, length), SimdWidth.Scalar);
                var gradOutput = Inputs(length + 1000, length);
                Assert.Equal(Backward(mask, gradOutput, 0, SimdWidth.Scalar), Backward(mask, gradOutput, 0, width));
                Assert.Equal(Backward(mask, null, -0.75f, SimdWidth.Scalar, length), Backward(mask, null, -0.75f, width, length));
            }
        }
    }

    [Fact]
    public void Backward_passes_the_gradient_exactly_where_the_input_was_positive()
    {
        // Across the threads' chunk boundaries (Elementwise.ChunkLength) and an odd tail.
        int length = 2 * Elementwise.ChunkLength + 13;
        var x = Inputs(7, length);
        var gradOutput = Inputs(8, length);
        var (_, mask) = Forward(x, SimdWidth.Auto);
        var gradInput = Backward(mask, gradOutput, 0, SimdWidth.Auto);
        var uniform = Backward(mask, null, 2.5f, SimdWidth.Auto, length);
        for (int i = 0; i < length; i++)
        {
            Assert.Equal(x[i] > 0 ? gradOutput[i] : 0f, gradInput[i]);
            Assert.Equal(x[i] > 0 ? 2.5f : 0f, uniform[i]);
        }
    }

    [Fact]
    public void Mismatched_lengths_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => Activation.ReluForward(new float[9], new float[9], new byte[1]));
        Assert.Contains("expected 2", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Activation.ReluBackward(new byte[2], new float[9], new float[8]));
    }

    [Fact]
    public void Relu_of_a_tensor_passes_a_random_gradient_where_the_input_was_positive()
    {
        var x = GradCheck.RandomLeaf(3, 4, 33, 5);
        var gradOutput = Tensor.FromArray(Inputs(4, x.Length), x.Shape);
        x.Relu().Backward(gradOutput);
        var input = x.ToArray();
        var upstream = gradOutput.ToArray();
        var grad = x.Grad!.ToArray();
        for (int i = 0; i < input.Length; i++)
        {
            Assert.Equal(input[i] > 0 ? upstream[i] : 0f, grad[i]);
        }
    }

    private static (float[] Output, byte[] Mask) Forward(float[] x, SimdWidth width)
    {
        var output = new float[x.Length];
        var mask = new byte[Activation.MaskBytes(x.Length)];
        Activation.ReluForward(x, output, mask, width);
        return (output, mask);
    }

    private static float[] Backward(byte[] mask, float[]? gradOutput, float value, SimdWidth width, int length = 0)
    {
        var gradInput = new float[gradOutput?.Length ?? length];
        if (gradOutput is null)
        {
            Activation.ReluBackward(mask, value, gradInput, width);
        }
        else
        {
            Activation.ReluBackward(mask, gradOutput, gradInput, width);
        }
        return gradInput;
    }
}
