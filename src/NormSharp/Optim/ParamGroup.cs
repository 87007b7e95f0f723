namespace NormSharp.Optim;

/// <summary>
/// A group of parameters with its own learning rate and weight decay (PyTorch's <c>param_groups</c> entry). Values
/// left null take the optimizer's when the group is added; schedules then set each group's learning rate from
/// the group's own base rate.
/// </summary>
/// <example>
/// The usual batch-norm practice, no weight decay on BN's γ and β nor on biases, in one line:
/// <code>var optimizer = new SGD(model.Parameters(), lr: 0.1, momentum: 0.9, weightDecay: 5e-4).NoWeightDecayOnNormAndBias(model);</code>
/// or by hand: <c>optimizer.AddParamGroup(new ParamGroup(head.Parameters(), lr: 0.01))</c>.
/// </example>
public sealed class ParamGroup
{
    private double? learningRate;
    private double? weightDecay;

    /// <summary>Creates a group.</summary>
    /// <param name="parameters">The group's parameters (leaves), each in one group only.</param>
    /// <param name="lr">The group's learning rate, or null for the optimizer's.</param>
    /// <param name="weightDecay">The group's weight decay, or null for the optimizer's.</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative or NaN learning rate or weight decay.</exception>
    public ParamGroup(IEnumerable<Tensor> parameters, double? lr = null, double? weightDecay = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = [.. parameters];
        if (lr is { } rate)
        {
            LearningRate = rate;
        }
        if (weightDecay is { } decay)
        {
            WeightDecay = decay;
        }
    }

    /// <summary>The group's parameters.</summary>
    public IReadOnlyList<Tensor> Parameters { get; }

    /// <summary>The learning rate of the group's next step.</summary>
    /// <exception cref="InvalidOperationException">Read before the group was given a rate or added to an optimizer.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative or NaN value.</exception>
    public double LearningRate
    {
        get => learningRate ?? throw new InvalidOperationException("This parameter group has no learning rate yet: add it to an optimizer.");
        set => learningRate = NonNegative(value, "learning rate");
    }

    /// <summary>The group's weight decay (L2 for SGD and Adam, decoupled for AdamW).</summary>
    /// <exception cref="InvalidOperationException">Read before the group was given a decay or added to an optimizer.</exception>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative or NaN value.</exception>
    public double WeightDecay
    {
        get => weightDecay ?? throw new InvalidOperationException("This parameter group has no weight decay yet: add it to an optimizer.");
        set => weightDecay = NonNegative(value, "weight decay");
    }

    /// <summary>The rate the first schedule attached to this group started from (PyTorch's <c>initial_lr</c>).</summary>
    internal double? InitialLearningRate { get; set; }

    /// <summary>Fills the values left null with the optimizer's.</summary>
    internal void Complete(double defaultLearningRate, double defaultWeightDecay)
    {
        learningRate ??= defaultLearningRate;
        weightDecay ??= defaultWeightDecay;
    }

    private static double NonNegative(double value, string what) =>
        value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, $"Invalid {what}: {value}; it must be >= 0.");
}
