using System.Globalization;
using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Batch normalization with separate running statistics for each time step (Cooijmans et al. 2016, "Recurrent Batch
/// Normalization", §3): step t of a sequence is normalized over the batch by its own statistics, with γ and β shared by
/// all steps. Statistics are kept for steps 0 … maxLength − 1 (the paper's T_max); later steps use those of step
/// maxLength − 1, in training (whose running statistics they move) and in evaluation.
/// </summary>
/// <remarks>
/// <para>Per step, training: y = (x − mean_B) / √(var_B + eps) · γ + β and
/// running[t] = (1 − momentum) · running[t] + momentum · batch (unbiased variance), PyTorch's convention; evaluation:
/// running[t] normalizes. Buffers <c>running_mean</c>, <c>running_var</c> [maxLength, C] (0 and 1);
/// parameters <c>weight</c> [C] (γ, initialized to weightInit: the paper's 0.1 keeps tanh and σ
/// out of saturation) and <c>bias</c> [C] (zeros; null when center is false, for the gate
/// normalizations whose β would duplicate the LSTM's bias).</para>
/// <para>A training batch of one sample is refused, as batch norm does.</para>
/// </remarks>
public sealed class TimeStepBatchNorm : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="numFeatures">C.</param>
    /// <param name="maxLength">T_max: the number of steps with their own statistics (at least 1).</param>
    /// <param name="eps">Added to the variance inside the square root (default 1e-5).</param>
    /// <param name="momentum">Weight of the new batch statistic in the running average (PyTorch's convention, default 0.1).</param>
    /// <param name="weightInit">The initial γ (default 0.1, the paper's).</param>
    /// <param name="center">Whether to learn β (default true).</param>
    public TimeStepBatchNorm(int numFeatures, int maxLength, double eps = 1e-5, double momentum = 0.1, double weightInit = 0.1, bool center = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        (NumFeatures, MaxLength, Eps, Momentum) = (numFeatures, maxLength, eps, momentum);
        Weight = RegisterParameter("weight", new Parameter(Tensor.Full((float)weightInit, numFeatures)))!;
        Bias = RegisterParameter("bias", center ? new Parameter(Tensor.Zeros(numFeatures)) : null);
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros(maxLength, numFeatures))!;
        RunningVar = RegisterBuffer("running_var", Tensor.Ones(maxLength, numFeatures))!;
    }

    /// <summary>C.</summary>
    public int NumFeatures { get; }

    /// <summary>T_max: steps 0 … MaxLength − 1 have their own statistics; later steps share the last.</summary>
    public int MaxLength { get; }

    /// <summary>Added to the variance inside the square root.</summary>
    public double Eps { get; }

    /// <summary>Weight of the new statistic in the running average (PyTorch's convention).</summary>
    public double Momentum { get; }

    /// <summary>γ [C].</summary>
    public Parameter Weight { get; }

    /// <summary>β [C], or null without centering.</summary>
    public Parameter? Bias { get; }

    /// <summary>Running means, one row per step: [MaxLength, C].</summary>
    public Tensor RunningMean { get; }

    /// <summary>Running unbiased variances, one row per step: [MaxLength, C].</summary>
    public Tensor RunningVar { get; }

    /// <summary>Normalizes a whole sequence (L, N, C), step t with the statistics of step min(t, MaxLength − 1).</summary>
    /// <exception cref="ArgumentException">Input not (L, N, C).</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3 || input.Size(2) != NumFeatures)
        {
            throw new ArgumentException($"TimeStepBatchNorm expected input (L, N, {NumFeatures}), got {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        var steps = new List<Tensor>();
        for (int t = 0; t < input.Size(0); t++)
        {
            steps.Add(Forward(input[t], t));
        }
        return SequenceSteps.Stack(steps);
    }

    /// <summary>Normalizes step <paramref name="step"/> of a batch, (N, C), with the statistics of step min(step, MaxLength − 1).</summary>
    /// <exception cref="ArgumentException">Input not (N, C), or one sample in training.</exception>
    public Tensor Forward(Tensor input, int step)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (input.Rank != 2 || input.Size(1) != NumFeatures)
        {
            throw new ArgumentException($"TimeStepBatchNorm expected step input (N, {NumFeatures}), got {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        int row = Math.Min(step, MaxLength - 1);
        // Row views share the buffers' storage: the batch-norm op updates them in place.
        return F.BatchNorm(input, RunningMean[row], RunningVar[row], Weight, Bias, Training, Momentum, Eps);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"TimeStepBatchNorm({NumFeatures}, maxLength: {MaxLength}, eps: {Eps.ToString(CultureInfo.InvariantCulture)}, momentum: {Momentum.ToString(CultureInfo.InvariantCulture)}, center: {Bias is not null})";
}
