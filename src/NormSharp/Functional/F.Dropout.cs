using System.Runtime.CompilerServices;
using NormSharp.Autograd;
using NormSharp.Nn;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// Inverted dropout (PyTorch's <c>dropout</c>): in training, each element is zeroed with probability
    /// <paramref name="p"/> and the survivors are scaled by 1 / (1 − p), so the expected output equals the input;
    /// outside training (or with p = 0) the input itself is returned. p = 1 zeroes everything.
    /// The gradient is gradOutput · mask, with mask ∈ {0, 1 / (1 − p)} the one drawn in the forward.
    /// </summary>
    /// <param name="input">Any shape.</param>
    /// <param name="p">Probability of zeroing an element, in [0, 1]; default 0.5.</param>
    /// <param name="training">Apply dropout (true, the default, as PyTorch's functional form) or return the input.</param>
    /// <param name="generator">Source of the mask; default <see cref="Init.DefaultGenerator"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public static Tensor Dropout(Tensor input, double p = 0.5, bool training = true, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckDropoutProbability(p);
        if (!training || p == 0 || input.Length == 0)
        {
            return input;
        }
        return new DropoutFunction().Forward(input, p, generator ?? Init.DefaultGenerator);
    }

    internal static void CheckDropoutProbability(double p)
    {
        if (!(p >= 0 && p <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, $"Dropout probability has to be between 0 and 1, but got {p}.");
        }
    }

    private sealed class DropoutFunction : Function
    {
        private float[] mask = [];

        public override string Name => "Dropout";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor input, double p, Generator generator)
        {
            // PyTorch: noise = bernoulli(1 − p) / (1 − p) in the input's precision; output = input · noise.
            double keep = 1 - p;
            float scale = keep > 0 ? 1f / (float)keep : 0f;
            var noise = RentForBackward(input.Length);
            for (int i = 0; i < noise.Length; i++)
            {
                noise[i] = generator.NextDouble() < keep ? scale : 0f;
            }
            var output = Tensor.Uninitialized(input.Shape);
            System.Numerics.Tensors.TensorPrimitives.Multiply(input.Data, noise, output.AsSpan());
            mask = noise;
            return Record(output, input);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var gradInput = Tensor.Uninitialized(gradOutput.Shape);
            System.Numerics.Tensors.TensorPrimitives.Multiply(gradOutput.Data, mask, gradInput.AsSpan());
            return [gradInput];
        }
    }
}
