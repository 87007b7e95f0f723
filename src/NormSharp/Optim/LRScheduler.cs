namespace NormSharp.Optim;

/// <summary>
/// Base class of learning-rate schedules (PyTorch's <c>torch.optim.lr_scheduler.LRScheduler</c>): call
/// <see cref="Step"/> once per epoch, after the epoch's optimizer steps (per batch for <see cref="OneCycleLR"/>). The
/// rate is a closed-form function of the epoch count and of each parameter group's learning rate when the schedule
/// was created (<see cref="BaseLearningRates"/>), so a schedule resumes exactly by setting <see cref="LastEpoch"/>.
/// </summary>
public abstract class LRScheduler
{
    private int lastEpoch;

    /// <summary>Attaches the schedule to <paramref name="optimizer"/>; epoch 0 uses the optimizer's current learning rate.</summary>
    protected LRScheduler(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        Optimizer = optimizer;
        // PyTorch's initial_lr: the first schedule attached records each group's rate, and later ones (chained
        // or sequential schedules) start from it rather than from a rate an earlier schedule has already changed.
        BaseLearningRates = [.. optimizer.ParamGroups.Select(g => g.InitialLearningRate ??= g.LearningRate)];
    }

    /// <summary>The optimizer whose learning rate this schedule sets.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The first group's learning rate when the schedule was created (PyTorch's <c>base_lrs[0]</c>).</summary>
    public double BaseLearningRate => BaseLearningRates[0];

    /// <summary>Each parameter group's learning rate when the schedule was created (PyTorch's <c>base_lrs</c>).</summary>
    public IReadOnlyList<double> BaseLearningRates { get; }

    /// <summary>
    /// The number of <see cref="Step"/> calls so far (PyTorch's <c>last_epoch</c>). Setting it, e.g. when resuming
    /// from a checkpoint, sets the optimizer's learning rate to the schedule's value at that epoch.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int LastEpoch
    {
        get => lastEpoch;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            lastEpoch = value;
            for (int g = 0; g < BaseLearningRates.Count; g++)
            {
                Optimizer.ParamGroups[g].LearningRate = LearningRateAt(value, BaseLearningRates[g]);
            }
        }
    }

    /// <summary>Advances one epoch and sets each group's learning rate to <see cref="LearningRateAt(int, double)"/>(<see cref="LastEpoch"/>, its base rate).</summary>
    public void Step() => LastEpoch = lastEpoch + 1;

    /// <summary>The first group's learning rate at <paramref name="epoch"/> (epoch 0 = <see cref="BaseLearningRate"/>).</summary>
    public double LearningRateAt(int epoch) => LearningRateAt(epoch, BaseLearningRate);

    /// <summary>The learning rate at <paramref name="epoch"/> of a group whose base rate is <paramref name="baseLearningRate"/>.</summary>
    public abstract double LearningRateAt(int epoch, double baseLearningRate);
}

/// <summary>
/// Decays the learning rate by <see cref="Gamma"/> every <see cref="StepSize"/> epochs (PyTorch's <c>StepLR</c>):
/// lr(epoch) = baseLr · gamma^⌊epoch / stepSize⌋.
/// </summary>
public sealed class StepLR : LRScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">The optimizer to drive; its current learning rate is the base.</param>
    /// <param name="stepSize">Epochs between decays, >= 1.</param>
    /// <param name="gamma">Multiplicative factor per decay, default 0.1.</param>
    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1)
        : base(optimizer)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepSize);
        if (!(gamma >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, $"Gamma must be >= 0, got {gamma}.");
        }
        StepSize = stepSize;
        Gamma = gamma;
    }

    public int StepSize { get; }

    public double Gamma { get; }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch, double baseLearningRate) => baseLearningRate * Math.Pow(Gamma, epoch / StepSize);
}

/// <summary>
/// Cosine annealing from the base learning rate down to <see cref="EtaMin"/> over <see cref="TMax"/> epochs
/// (PyTorch's <c>CosineAnnealingLR</c>, closed form, no restarts):
/// lr(epoch) = etaMin + (baseLr − etaMin) · (1 + cos(π · epoch / tMax)) / 2. Past tMax the cosine continues (rising again), as in PyTorch.
/// </summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="optimizer">The optimizer to drive; its current learning rate is the base.</param>
    /// <param name="tMax">Epochs from the base rate to the minimum, >= 1.</param>
    /// <param name="etaMin">The minimum learning rate, default 0.</param>
    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0)
        : base(optimizer)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tMax);
        if (!(etaMin >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(etaMin), etaMin, $"The minimum learning rate must be >= 0, got {etaMin}.");
        }
        TMax = tMax;
        EtaMin = etaMin;
    }

    public int TMax { get; }

    public double EtaMin { get; }

    /// <inheritdoc/>
    public override double LearningRateAt(int epoch, double baseLearningRate) =>
        EtaMin + (baseLearningRate - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;
}
