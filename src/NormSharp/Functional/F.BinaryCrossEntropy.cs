using System.Runtime.CompilerServices;
using NormSharp.Autograd;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// Binary cross-entropy from logits, mean over all elements (PyTorch's <c>binary_cross_entropy_with_logits</c>,
    /// reduction 'mean'): ℓ = −w·[pw·y·log σ(x) + (1 − y)·log(1 − σ(x))], computed stably as
    /// w·[(1 − y)·x + (1 + (pw − 1)·y)·softplus(−x)]. Targets y may be soft (any value in [0, 1]).
    /// Backward: d x = w·[(1 − y) − (1 + (pw − 1)·y)·σ(−x)] / n; d y = w·[−x + (pw − 1)·softplus(−x)] / n.
    /// </summary>
    /// <param name="input">Logits x, any shape.</param>
    /// <param name="target">Targets y, the input's shape.</param>
    /// <param name="weight">Optional w, broadcast to the input's shape (rescales each element's loss); not differentiated.</param>
    /// <param name="posWeight">Optional pw, broadcast to the input's shape (usually [C]: weight of the positives of each class); not differentiated.</param>
    /// <returns>A scalar (shape []).</returns>
    /// <exception cref="ArgumentException">The target's shape differs from the input's, or a weight does not broadcast to it.</exception>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor input, Tensor target, Tensor? weight = null, Tensor? posWeight = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        CheckSameShape("BinaryCrossEntropyWithLogits", input, target);
        var shape = input.Shape;
        return new BinaryCrossEntropyFunction(
            BroadcastWeight(weight, shape, nameof(weight)), BroadcastWeight(posWeight, shape, nameof(posWeight))).Forward(input, target);
    }

    /// <summary>The weight repeated to <paramref name="shape"/>, all 1 when null.</summary>
    private static float[] BroadcastWeight(Tensor? weight, int[] shape, string name)
    {
        if (weight is null)
        {
            return [.. Enumerable.Repeat(1f, (int)ShapeUtil.Count(shape))];
        }
        var broadcast = ShapeUtil.Broadcast(weight.ShapeSpan, shape);
        if (!ShapeUtil.Equal(broadcast, shape))
        {
            throw new ArgumentException(
                $"BinaryCrossEntropyWithLogits {name} of shape {ShapeUtil.Format(weight.ShapeSpan)} does not broadcast to the input's shape {ShapeUtil.Format(shape)}.", name);
        }
        return weight.Expanded(shape);
    }

    private sealed class BinaryCrossEntropyFunction(float[] weight, float[] posWeight) : Function
    {
        public override string Name => "BinaryCrossEntropyWithLogits";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor input, Tensor target)
        {
            var x = input.Data;
            var y = target.Data;
            double total = 0;
            for (int i = 0; i < x.Length; i++)
            {
                total += weight[i] * ((1.0 - y[i]) * x[i] + (1 + (posWeight[i] - 1.0) * y[i]) * SoftplusOfNegative(x[i]));
            }
            SaveForBackward(input, target);
            return Record(Tensor.Scalar((float)(total / x.Length)), input, target);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var x = SavedTensors[0].Data;
            var y = SavedTensors[1].Data;
            double scale = gradOutput.Item() / x.Length;
            Tensor? gradInput = null, gradTarget = null;
            if (NeedsInputGrad[0])
            {
                gradInput = Tensor.Zeros(SavedTensors[0].Shape);
                var dx = gradInput.AsSpan();
                for (int i = 0; i < dx.Length; i++)
                {
                    double sigmoidOfNegative = 1 / (1 + Math.Exp(x[i]));
                    dx[i] = (float)(scale * weight[i] * ((1.0 - y[i]) - (1 + (posWeight[i] - 1.0) * y[i]) * sigmoidOfNegative));
                }
            }
            if (NeedsInputGrad[1])
            {
                gradTarget = Tensor.Zeros(SavedTensors[1].Shape);
                var dy = gradTarget.AsSpan();
                for (int i = 0; i < dy.Length; i++)
                {
                    dy[i] = (float)(scale * weight[i] * (-x[i] + (posWeight[i] - 1.0) * SoftplusOfNegative(x[i])));
                }
            }
            return [gradInput, gradTarget];
        }

        // softplus(−x) = log(1 + e^−x) = max(−x, 0) + log(1 + e^−|x|), without overflow for large |x|.
        private static double SoftplusOfNegative(float x) => Math.Max(-x, 0) + Math.Log(1 + Math.Exp(-Math.Abs((double)x)));
    }
}
