namespace NormSharp.Optim;

/// <summary>
/// Decays the learning rate by <see cref="Gamma"/> at each milestone epoch (PyTorch's <c>MultiStepLR</c>):
/// lr(epoch) = baseLr · gamma^(number of milestones ≤ epoch); a milestone listed twice decays twice.
/// </summary>
public sealed class MultiStepLR : LRScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">The optimizer to drive.</param>
    /// <param name="milestones">Epochs at which to decay, e.g. [30, 60, 90]; any order.</param>
    /// <param name="gamma">Multiplicative factor per milestone, default 0.1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative milestone or gamma.</exception>
    public MultiStepLR(Optimizer optimizer, IEnumerable<int> milestones, double gamma = 0.1)
        : base(optimizer)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        Milestones = [.. milestones.Order()];
        if (Milestones.Count > 0 && Milestones[0] < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(milestones), Milestones[0], $"Milestones must be >= 0, got [{string.Join(", ", Milestones)}].");
        }
        if (!(gamma >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, $"Gamma must be >= 0, got {gamma}.");
        }
        Gamma = gamma;
    }

    /// <summary>The milestones, sorted.</summary>
    public IReadOnlyList<int> Milestones { get; }

    /// <summary>The factor per milestone.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch, double baseLearningRate) =>
        baseLearningRate * Math.Pow(Gamma, Milestones.Count(m => m <= epoch));
}

/// <summary>
/// Linear warm-up (PyTorch's <c>LinearLR</c>): the factor goes linearly from <see cref="StartFactor"/> to
/// <see cref="EndFactor"/> over <see cref="TotalIters"/> epochs (or steps, if stepped per batch), then stays:
/// lr(epoch) = baseLr · (start + (end − start) · min(epoch, totalIters) / totalIters). Chain it with another schedule
/// through <see cref="SequentialLR"/>. Sets the optimizer's rate for epoch 0 at once, as PyTorch.
/// </summary>
public sealed class LinearLR : LRScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">The optimizer to drive.</param>
    /// <param name="startFactor">Factor at epoch 0, in (0, 1]; default 1/3.</param>
    /// <param name="endFactor">Factor from epoch <paramref name="totalIters"/> on, in [0, 1]; default 1.</param>
    /// <param name="totalIters">Epochs of the ramp, >= 1; default 5.</param>
    /// <exception cref="ArgumentOutOfRangeException">A factor or length outside its range.</exception>
    public LinearLR(Optimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, int totalIters = 5)
        : base(optimizer)
    {
        if (!(startFactor > 0 && startFactor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(startFactor), startFactor, $"Starting multiplicative factor expected to be greater than 0 and less or equal to 1, got {startFactor}.");
        }
        if (!(endFactor >= 0 && endFactor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(endFactor), endFactor, $"Ending multiplicative factor expected to be between 0 and 1, got {endFactor}.");
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalIters);
        StartFactor = startFactor;
        EndFactor = endFactor;
        TotalIters = totalIters;
        LastEpoch = 0;
    }

    public double StartFactor { get; }

    public double EndFactor { get; }

    public int TotalIters { get; }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch, double baseLearningRate) =>
        baseLearningRate * (StartFactor + (EndFactor - StartFactor) * Math.Min(epoch, TotalIters) / TotalIters);
}

/// <summary>
/// Runs schedules one after another (PyTorch's <c>SequentialLR</c>): schedule k runs from milestone k − 1 (or 0),
/// counting its epochs from 0 there. The usual use is warm-up, then decay:
/// <c>new SequentialLR(opt, [new LinearLR(opt, 0.1, totalIters: 5), new CosineAnnealingLR(opt, 95)], [5])</c>.
/// </summary>
public sealed class SequentialLR : LRScheduler
{
    private readonly LRScheduler[] schedulers;

    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">The optimizer all the schedules drive.</param>
    /// <param name="schedulers">The schedules in order, each created on <paramref name="optimizer"/>.</param>
    /// <param name="milestones">Increasing epochs where the next schedule takes over; one fewer than the schedules.</param>
    /// <exception cref="ArgumentException">Counts that do not fit, milestones not increasing, or a schedule on another optimizer.</exception>
    public SequentialLR(Optimizer optimizer, IReadOnlyList<LRScheduler> schedulers, IReadOnlyList<int> milestones)
        : base(optimizer)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        ArgumentNullException.ThrowIfNull(milestones);
        if (schedulers.Count == 0 || milestones.Count != schedulers.Count - 1)
        {
            throw new ArgumentException(
                $"SequentialLR expects one milestone fewer than schedules, got {schedulers.Count} schedules and {milestones.Count} milestones.", nameof(milestones));
        }
        for (int i = 0; i < schedulers.Count; i++)
        {
            if (!ReferenceEquals(schedulers[i].Optimizer, optimizer))
            {
                throw new ArgumentException($"SequentialLR schedule {i} drives another optimizer than the one given.", nameof(schedulers));
            }
        }
        for (int i = 1; i < milestones.Count; i++)
        {
            if (milestones[i] <= milestones[i - 1])
            {
                throw new ArgumentException($"SequentialLR milestones must increase, got [{string.Join(", ", milestones)}].", nameof(milestones));
            }
        }
        this.schedulers = [.. schedulers];
        Milestones = [.. milestones];
        LastEpoch = 0;
    }

    /// <summary>The epochs where the next schedule takes over.</summary>
    public IReadOnlyList<int> Milestones { get; }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch, double baseLearningRate)
    {
        int k = Milestones.Count(m => m <= epoch);
        int start = k == 0 ? 0 : Milestones[k - 1];
        return schedulers[k].LearningRateAt(epoch - start, baseLearningRate);
    }
}

/// <summary>How <see cref="OneCycleLR"/> moves between rates within a phase.</summary>
public enum AnnealStrategy
{
    /// <summary>Half a cosine (PyTorch's 'cos', the default).</summary>
    Cos,

    /// <summary>A straight line (PyTorch's 'linear').</summary>
    Linear,
}

/// <summary>
/// The 1cycle policy (Smith and Topin, 2018; PyTorch's <c>OneCycleLR</c>, two phases), stepped once per batch: the
/// rate rises from maxLr / divFactor to <see cref="MaxLr"/> over the first pctStart of <see cref="TotalSteps"/>, then
/// falls to maxLr / (divFactor · finalDivFactor) by the last step. The groups' own rates are ignored, as in PyTorch.
/// Momentum is not cycled (PyTorch's cycle_momentum = False).
/// </summary>
public sealed class OneCycleLR : LRScheduler
{
    /// <summary>Creates the schedule and sets the rate of step 0.</summary>
    /// <param name="optimizer">The optimizer to drive.</param>
    /// <param name="maxLr">The peak learning rate, > 0.</param>
    /// <param name="totalSteps">The number of <see cref="LRScheduler.Step"/> calls planned (epochs × batches per epoch), >= 2.</param>
    /// <param name="pctStart">Share of the steps spent rising, in (0, 1); default 0.3.</param>
    /// <param name="annealStrategy">Cosine (default) or linear.</param>
    /// <param name="divFactor">Initial rate = maxLr / divFactor; default 25.</param>
    /// <param name="finalDivFactor">Final rate = initial rate / finalDivFactor; default 1e4.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value outside its range.</exception>
    public OneCycleLR(Optimizer optimizer, double maxLr, int totalSteps, double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cos,
        double divFactor = 25, double finalDivFactor = 1e4)
        : base(optimizer)
    {
        if (!(maxLr > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxLr), maxLr, $"The peak learning rate must be > 0, got {maxLr}.");
        }
        if (totalSteps < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"Expected at least 2 total steps, got {totalSteps}.");
        }
        if (!(pctStart > 0 && pctStart < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, $"Expected float between 0 and 1 for pctStart, got {pctStart}.");
        }
        if (!(divFactor > 0) || !(finalDivFactor > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(divFactor), $"divFactor and finalDivFactor must be > 0, got {divFactor} and {finalDivFactor}.");
        }
        MaxLr = maxLr;
        TotalSteps = totalSteps;
        PctStart = pctStart;
        Strategy = annealStrategy;
        InitialLr = maxLr / divFactor;
        MinLr = InitialLr / finalDivFactor;
        LastEpoch = 0;
    }

    public double MaxLr { get; }

    public int TotalSteps { get; }

    public double PctStart { get; }

    public AnnealStrategy Strategy { get; }

    /// <summary>The rate at step 0: maxLr / divFactor.</summary>
    public double InitialLr { get; }

    /// <summary>The rate at the last step: initial rate / finalDivFactor.</summary>
    public double MinLr { get; }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is past <see cref="TotalSteps"/>.</exception>
    public override double LearningRateAt(int epoch, double baseLearningRate)
    {
        if (epoch > TotalSteps)
        {
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"Tried to step {epoch} times. The specified number of total steps is {TotalSteps}.");
        }
        // PyTorch's phase ends, in steps: the peak at pctStart · totalSteps − 1, the end at totalSteps − 1.
        double peakStep = PctStart * TotalSteps - 1, lastStep = TotalSteps - 1;
        return epoch <= peakStep
            ? Anneal(InitialLr, MaxLr, epoch / peakStep)
            : Anneal(MaxLr, MinLr, (epoch - peakStep) / (lastStep - peakStep));
    }

    private double Anneal(double start, double end, double fraction) => Strategy == AnnealStrategy.Cos
        ? end + (start - end) / 2 * (Math.Cos(Math.PI * fraction) + 1)
        : (end - start) * fraction + start;
}
