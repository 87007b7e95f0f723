using System.Runtime.CompilerServices;
using NormSharp.Autograd;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// Negative log-likelihood from log-probabilities with class-index targets, mean over the batch (PyTorch's
    /// <c>nll_loss</c>, reduction 'mean'): loss = −Σ_n w[t_n]·input[n, t_n] / Σ_n w[t_n], class weights w all 1 by
    /// default. <c>NllLoss(LogSoftmax(x, 1), t)</c> is <see cref="CrossEntropy"/>. Backward: d input[n, t_n] = −w[t_n] / Σ w[t].
    /// </summary>
    /// <param name="input">[N, C] log-probabilities (e.g. from <see cref="LogSoftmax"/>).</param>
    /// <param name="targets">N class indices in [0, C).</param>
    /// <param name="weight">Optional [C] class weights; not differentiated.</param>
    /// <returns>A scalar (shape []).</returns>
    /// <exception cref="ArgumentException">Input not 2-D, batch sizes differ, or the weight is not [C].</exception>
    /// <exception cref="ArgumentOutOfRangeException">A target is outside [0, C).</exception>
    public static Tensor NllLoss(Tensor input, int[] targets, Tensor? weight = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(targets);
        if (input.Rank != 2)
        {
            throw new ArgumentException(
                $"NllLoss expected 2-D input [N, C], got {input.Rank}-D shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        if (targets.Length != input.Size(0))
        {
            throw new ArgumentException(
                $"NllLoss expected {input.Size(0)} targets for input of shape {ShapeUtil.Format(input.ShapeSpan)}, got {targets.Length} targets.", nameof(targets));
        }
        CheckTargets(targets, input.Size(1));
        return new NllLossFunction(ClassWeights("NllLoss", weight, input.Size(1)), (int[])targets.Clone()).Forward(input);
    }

    private sealed class NllLossFunction(double[] weight, int[] targets) : Function
    {
        private int[] inputShape = [];
        private double totalWeight;

        public override string Name => "NllLoss";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor input)
        {
            inputShape = input.Shape;
            int classes = input.Size(1);
            var x = input.Data;
            double total = 0;
            for (int n = 0; n < targets.Length; n++)
            {
                total -= weight[targets[n]] * x[n * classes + targets[n]];
                totalWeight += weight[targets[n]];
            }
            return Record(Tensor.Scalar((float)(total / totalWeight)), input);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var gradInput = Tensor.Zeros(inputShape);
            var dx = gradInput.AsSpan();
            int classes = inputShape[1];
            double scale = gradOutput.Item() / totalWeight;
            for (int n = 0; n < targets.Length; n++)
            {
                dx[n * classes + targets[n]] = (float)(-scale * weight[targets[n]]);
            }
            return [gradInput];
        }
    }
}
