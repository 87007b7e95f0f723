using NormSharp.Autograd;

namespace NormSharp.Optim;

/// <summary>Penalty terms to add to a loss (weight decay in <see cref="SGD"/> and <see cref="Adam"/> covers L2).</summary>
public static class Regularization
{
    /// <summary>
    /// The L1 penalty λ · Σ_p Σ_i |p_i| over every parameter, as a differentiable scalar: add it to the loss.
    /// Its gradient is λ · sign(p) (0 at 0, as PyTorch's <c>abs</c>). The sum is accumulated in double.
    /// </summary>
    /// <param name="parameters">The tensors to penalize, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="lambda">Strength λ, >= 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lambda"/> is negative or NaN.</exception>
    public static Tensor L1(IEnumerable<Tensor> parameters, double lambda)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(lambda >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(lambda), lambda, $"The L1 strength must be >= 0, got {lambda}.");
        }
        Tensor[] tensors = [.. parameters];
        foreach (var t in tensors)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(parameters));
        }
        return new L1Function(lambda).Forward(tensors);
    }

    private sealed class L1Function(double lambda) : Function
    {
        public override string Name => "L1";

        public Tensor Forward(Tensor[] tensors)
        {
            double sum = 0;
            foreach (var t in tensors)
            {
                foreach (float v in t.Data)
                {
                    sum += Math.Abs(v);
                }
            }
            SaveForBackward(tensors);
            return Record(Tensor.Scalar((float)(lambda * sum)), tensors);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            float scale = (float)(lambda * gradOutput.Item());
            var gradients = new Tensor?[SavedTensors.Count];
            for (int t = 0; t < gradients.Length; t++)
            {
                if (!NeedsInputGrad[t])
                {
                    continue;
                }
                var x = SavedTensors[t].Data;
                var gradient = Tensor.Zeros(SavedTensors[t].Shape);
                var g = gradient.AsSpan();
                for (int i = 0; i < g.Length; i++)
                {
                    g[i] = x[i] > 0 ? scale : x[i] < 0 ? -scale : 0f;
                }
                gradients[t] = gradient;
            }
            return gradients;
        }
    }
}
