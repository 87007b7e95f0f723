using System.Numerics;
using System.Runtime.CompilerServices;

namespace NormSharp.Optim;

/// <summary>
/// Adam (Kingma &amp; Ba, 2015), exactly PyTorch's <c>torch.optim.Adam</c> (amsgrad off). For each parameter p with
/// gradient g, at its step t = 1, 2, ...:
/// <code>
/// g = g + weightDecay · p                    (L2 penalty in the gradient, if weightDecay ≠ 0)
/// m = m + (1 − β1) · (g − m)                 (PyTorch's lerp)
/// v = β2 · v + (1 − β2) · g²
/// denom = √v / √(1 − β2^t) + eps             (eps added after the bias correction of √v)
/// p = p − (lr / (1 − β1^t)) · m / denom
/// </code>
/// State: <c>state.{i}.exp_avg</c> (m), <c>state.{i}.exp_avg_sq</c> (v), <c>state.{i}.step</c> (t).
/// </summary>
public class Adam : Optimizer
{
    private static readonly string[] MomentNames = ["exp_avg", "exp_avg_sq"];
    private readonly bool decoupledWeightDecay;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">The parameters to update, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="lr">Learning rate, >= 0; default 1e-3.</param>
    /// <param name="beta1">Decay of the first moment, in [0, 1); default 0.9.</param>
    /// <param name="beta2">Decay of the second moment, in [0, 1); default 0.999.</param>
    /// <param name="eps">Added to the denominator, >= 0; default 1e-8.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient, >= 0; default 0. For decoupled decay use <see cref="AdamW"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyperparameter outside its range (the message gives the value).</exception>
    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this(parameters, lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay: false)
    {
    }

    private protected Adam(IEnumerable<Tensor> parameters, double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupledWeightDecay)
        : base(parameters, learningRate: lr, weightDecay)
    {
        if (!(beta1 >= 0 && beta1 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"Invalid beta1: {beta1}; it must be in [0, 1).");
        }
        if (!(beta2 >= 0 && beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"Invalid beta2: {beta2}; it must be in [0, 1).");
        }
        if (!(eps >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(eps), eps, $"Invalid epsilon value: {eps}; it must be >= 0.");
        }
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        this.decoupledWeightDecay = decoupledWeightDecay;
    }

    public double Beta1 { get; }

    public double Beta2 { get; }

    public double Eps { get; }

    /// <summary>The weight decay the optimizer was created with (each group has its own: <see cref="ParamGroup.WeightDecay"/>).</summary>
    public double WeightDecay { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> BufferNames => MomentNames;

    /// <inheritdoc/>
    protected override bool CountsSteps => true;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Step()
    {
        float oneMinusBeta1 = (float)(1 - Beta1), beta2 = (float)Beta2, oneMinusBeta2 = (float)(1 - Beta2), eps = (float)Eps;
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (GradientOf(i) is not { } gradient)
            {
                continue;
            }
            var param = Parameters[i].AsSpan();
            var grad = gradient.Data;
            var state = State(i);
            var expAvg = state[0];
            var expAvgSq = state[1];
            long step = IncrementStep(i);
            double lr = LearningRateOf(i), decay = WeightDecayOf(i);
            float weightDecay = (float)decay;
            if (decoupledWeightDecay && decay != 0)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(param, (float)(1 - lr * decay), param);
            }
            // Bias corrections in double, as PyTorch computes them in Python, then rounded once to float.
            double biasCorrection1 = 1 - Math.Pow(Beta1, step);
            double biasCorrection2 = 1 - Math.Pow(Beta2, step);
            float negativeStepSize = (float)-(lr / biasCorrection1);
            float biasCorrection2Sqrt = (float)Math.Sqrt(biasCorrection2);
            bool l2 = !decoupledWeightDecay && decay != 0;
            int k = Vector.IsHardwareAccelerated
                ? UpdateVectors(param, grad, expAvg, expAvgSq, l2 ? weightDecay : 0, oneMinusBeta1, beta2, oneMinusBeta2, eps, negativeStepSize, biasCorrection2Sqrt)
                : 0;
            for (; k < param.Length; k++)
            {
                float g = l2 ? grad[k] + weightDecay * param[k] : grad[k];
                float m = expAvg[k];
                // torch.lerp(m, g, w): m + w·(g − m) for w < 0.5, else g − (g − m)·(1 − w).
                m = oneMinusBeta1 < 0.5f ? m + oneMinusBeta1 * (g - m) : g - (g - m) * (1 - oneMinusBeta1);
                float v = expAvgSq[k] * beta2 + oneMinusBeta2 * g * g;
                expAvg[k] = m;
                expAvgSq[k] = v;
                float denominator = MathF.Sqrt(v) / biasCorrection2Sqrt + eps;
                param[k] += negativeStepSize * (m / denominator);
            }
        }
    }
    // The scalar update of Step on whole vectors, the same operations in the same order (no fused multiply-adds), so
    // every lane rounds exactly as the scalar loop does; returns how many elements it updated.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int UpdateVectors(
        Span<float> param, ReadOnlySpan<float> grad, Span<float> expAvg, Span<float> expAvgSq, float weightDecay,
        float oneMinusBeta1, float beta2, float oneMinusBeta2, float eps, float negativeStepSize, float biasCorrection2Sqrt)
    {
        int width = Vector<float>.Count, end = param.Length - param.Length % width;
        bool lerpFromM = oneMinusBeta1 < 0.5f;
        Vector<float> w = new(oneMinusBeta1), oneMinusW = new(1 - oneMinusBeta1), decay = new(weightDecay);
        Vector<float> b2 = new(beta2), oneMinusB2 = new(oneMinusBeta2), epsilon = new(eps), step = new(negativeStepSize), correction = new(biasCorrection2Sqrt);
        for (int k = 0; k < end; k += width)
        {
            var p = new Vector<float>(param[k..]);
            var g = new Vector<float>(grad[k..]);
            if (weightDecay != 0)
            {
                g += decay * p;
            }
            var m = new Vector<float>(expAvg[k..]);
            m = lerpFromM ? m + w * (g - m) : g - (g - m) * oneMinusW;
            var v = new Vector<float>(expAvgSq[k..]) * b2 + oneMinusB2 * g * g;
            m.CopyTo(expAvg[k..]);
            v.CopyTo(expAvgSq[k..]);
            var denominator = Vector.SquareRoot(v) / correction + epsilon;
            (p + step * (m / denominator)).CopyTo(param[k..]);
        }
        return end;
    }
}
