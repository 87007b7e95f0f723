using System.Globalization;

namespace NormSharp.Optim;

/// <summary>
/// Base class of optimizers (PyTorch's <c>torch.optim.Optimizer</c>): parameter groups (<see cref="ParamGroups"/>),
/// each with its own learning rate and weight decay, and per-parameter state that <see cref="StateDict"/> exports and <see cref="LoadStateDict"/>
/// restores exactly, so that a run resumed from a checkpoint continues bit for bit.
/// </summary>
/// <remarks>
/// State keys are PyTorch's: <c>state.{i}.{name}</c> with i the parameter's index in <see cref="Parameters"/> (the
/// groups' parameters one group after the other), e.g. <c>state.0.momentum_buffer</c>, <c>state.3.exp_avg</c>, <c>state.3.exp_avg_sq</c>, and
/// <c>state.3.step</c> (a one-element tensor). A parameter has state only once a step has updated it (it had a
/// gradient). Hyperparameters, including the learning rate, are not part of the state: construct the optimizer with
/// the same arguments and restore a schedule through <see cref="LRScheduler.LastEpoch"/>.
/// </remarks>
public abstract class Optimizer
{
    private const string StepName = "step";

    private readonly List<Tensor> parameters = [];
    private readonly List<int> groupOf = [];
    private readonly List<ParamGroup> groups = [];
    private readonly List<float[][]?> buffers = [];
    private readonly List<long> steps = [];
    private readonly double defaultLearningRate;
    private readonly double defaultWeightDecay;

    /// <summary>Takes the parameters to optimize, in a fixed order (it numbers the state keys), as one group.</summary>
    /// <exception cref="ArgumentException">The list is empty, or holds a null, a non-leaf tensor, or a tensor twice.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learningRate"/> or <paramref name="weightDecay"/> is negative or NaN.</exception>
    protected Optimizer(IEnumerable<Tensor> parameters, double learningRate, double weightDecay = 0)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(learningRate >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"Invalid learning rate: {learningRate}; it must be >= 0.");
        }
        if (!(weightDecay >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"Invalid weight decay value: {weightDecay}; it must be >= 0.");
        }
        defaultLearningRate = learningRate;
        defaultWeightDecay = weightDecay;
        AddParamGroup(new ParamGroup(parameters));
    }

    /// <summary>Every parameter, group after group, each group's in the order given (the order numbers the state keys).</summary>
    public IReadOnlyList<Tensor> Parameters => parameters;

    /// <summary>The parameter groups (PyTorch's <c>param_groups</c>): the constructor's, then each added one.</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => groups;

    /// <summary>
    /// The learning rate of the first group; setting it sets every group's (with one group, simply the learning rate
    /// of the next <see cref="Step"/>). Schedules set each group's rate from its own base rate.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or NaN.</exception>
    public double LearningRate
    {
        get => groups[0].LearningRate;
        set
        {
            foreach (var group in groups)
            {
                group.LearningRate = value;
            }
        }
    }

    /// <summary>
    /// Adds a group (PyTorch's <c>add_param_group</c>); its learning rate and weight decay default to the values
    /// the optimizer was constructed with. Returns this optimizer.
    /// </summary>
    /// <exception cref="ArgumentException">The group is empty, or holds a null, a non-leaf tensor, or a tensor already optimized.</exception>
    public Optimizer AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Parameters.Count == 0)
        {
            throw new ArgumentException($"Parameter group {groups.Count} is empty: the optimizer got an empty parameter list.", nameof(group));
        }
        var seen = new HashSet<Tensor>(parameters, ReferenceEqualityComparer.Instance);
        for (int i = 0; i < group.Parameters.Count; i++)
        {
            var p = group.Parameters[i] ?? throw new ArgumentException($"Parameter {i} is null.", nameof(group));
            if (!p.IsLeaf)
            {
                throw new ArgumentException(
                    $"Parameter {i} (shape {ShapeUtil.Format(p.ShapeSpan)}) is not a leaf tensor; an optimizer can only update leaves.", nameof(group));
            }
            if (!seen.Add(p))
            {
                throw new ArgumentException($"Parameter {i} (shape {ShapeUtil.Format(p.ShapeSpan)}) appears more than once in the optimizer's parameters.", nameof(group));
            }
        }
        group.Complete(defaultLearningRate, defaultWeightDecay);
        foreach (var p in group.Parameters)
        {
            parameters.Add(p);
            groupOf.Add(groups.Count);
            buffers.Add(null);
            steps.Add(0);
        }
        groups.Add(group);
        return this;
    }

    /// <summary>
    /// Moves the parameters matching <paramref name="predicate"/> out of their groups into a new group with weight
    /// decay <paramref name="weightDecay"/> and the first group's learning rate. Only before the first step.
    /// </summary>
    /// <exception cref="InvalidOperationException">A step has already created state.</exception>
    internal Optimizer SplitOff(Func<Tensor, bool> predicate, double weightDecay)
    {
        if (buffers.Any(b => b is not null))
        {
            throw new InvalidOperationException("Parameter groups can only be rearranged before the first step.");
        }
        var moved = parameters.Where(predicate).ToList();
        if (moved.Count == 0)
        {
            return this;
        }
        var kept = groups.Select(g => new ParamGroup(g.Parameters.Where(p => !predicate(p)), g.LearningRate, g.WeightDecay)).Where(g => g.Parameters.Count > 0).ToList();
        double learningRate = LearningRate;
        parameters.Clear();
        groupOf.Clear();
        groups.Clear();
        buffers.Clear();
        steps.Clear();
        foreach (var group in kept)
        {
            AddParamGroup(group);
        }
        return AddParamGroup(new ParamGroup(moved, learningRate, weightDecay));
    }

    /// <summary>The learning rate of parameter <paramref name="index"/>'s group.</summary>
    protected double LearningRateOf(int index) => groups[groupOf[index]].LearningRate;

    /// <summary>The weight decay of parameter <paramref name="index"/>'s group.</summary>
    protected double WeightDecayOf(int index) => groups[groupOf[index]].WeightDecay;

    /// <summary>Updates every parameter that has a gradient; parameters whose <see cref="Tensor.Grad"/> is null are skipped.</summary>
    public abstract void Step();

    /// <summary>
    /// Clears the gradients of every parameter: disposes each and sets it to null, as PyTorch's default set_to_none
    /// drops its reference, so the next backward writes its gradients into their storage. Clone a gradient to keep it.
    /// </summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters)
        {
            p.Grad?.Dispose();
            p.Grad = null;
        }
    }

    /// <summary>Names of the per-parameter state buffers, each the shape of its parameter (e.g. "exp_avg").</summary>
    protected abstract IReadOnlyList<string> BufferNames { get; }

    /// <summary>Whether the state includes a per-parameter step count (exported as <c>state.{i}.step</c>).</summary>
    protected abstract bool CountsSteps { get; }

    /// <summary>A copy of the optimizer state: <c>state.{i}.{name}</c> → tensor, for each parameter that has state.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var names = BufferNames;
        for (int i = 0; i < parameters.Count; i++)
        {
            if (buffers[i] is not { } owned)
            {
                continue;
            }
            for (int b = 0; b < names.Count; b++)
            {
                state[Key(i, names[b])] = Tensor.FromArray(owned[b], parameters[i].Shape);
            }
            if (CountsSteps)
            {
                state[Key(i, StepName)] = Tensor.Scalar(steps[i]);
            }
        }
        return state;
    }

    /// <summary>
    /// Replaces the optimizer state with a copy of <paramref name="stateDict"/> (as produced by <see cref="StateDict"/>).
    /// Parameters without keys get no state (as if never stepped). Everything is checked before anything changes.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown key, a parameter index out of range, a buffer whose shape differs from its
    /// parameter's, a step that is not a non-negative integer, or a parameter whose state is incomplete.</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var names = BufferNames;
        var loaded = new float[][]?[parameters.Count];
        var loadedSteps = new long[parameters.Count];
        var present = new bool[parameters.Count];
        foreach (var (key, value) in stateDict)
        {
            var (index, name) = ParseKey(key, names);
            ArgumentNullException.ThrowIfNull(value, key);
            var p = parameters[index];
            present[index] = true;
            if (name == StepName)
            {
                float step = value.Length == 1 ? value.Data[0] : float.NaN;
                if (!(step >= 0) || step != MathF.Floor(step) || float.IsInfinity(step))
                {
                    throw new ArgumentException(
                        $"Optimizer state \"{key}\" must be a one-element tensor holding a non-negative integer, got shape {ShapeUtil.Format(value.ShapeSpan)} value {(value.Length == 1 ? value.Data[0] : float.NaN)}.", nameof(stateDict));
                }
                loadedSteps[index] = (long)step;
                continue;
            }
            if (!ShapeUtil.Equal(value.ShapeSpan, p.ShapeSpan))
            {
                throw new ArgumentException(
                    $"Optimizer state \"{key}\" has shape {ShapeUtil.Format(value.ShapeSpan)} but parameter {index} has shape {ShapeUtil.Format(p.ShapeSpan)}.", nameof(stateDict));
            }
            loaded[index] ??= new float[names.Count][];
            loaded[index]![IndexOf(names, name)] = value.Data.ToArray();
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            if (!present[i])
            {
                continue;
            }
            for (int b = 0; b < names.Count; b++)
            {
                if (loaded[i]?[b] is null)
                {
                    throw new ArgumentException($"Optimizer state for parameter {i} is incomplete: \"{Key(i, names[b])}\" is missing.", nameof(stateDict));
                }
            }
            if (CountsSteps && !stateDict.ContainsKey(Key(i, StepName)))
            {
                throw new ArgumentException($"Optimizer state for parameter {i} is incomplete: \"{Key(i, StepName)}\" is missing.", nameof(stateDict));
            }
            // An optimizer without buffers or step (plain SGD) has no state to restore.
            loaded[i] ??= [];
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            buffers[i] = loaded[i];
            steps[i] = loadedSteps[i];
        }
    }

    /// <summary>Whether parameter <paramref name="index"/> has state yet (it has been updated at least once).</summary>
    protected bool HasState(int index) => buffers[index] is not null;

    /// <summary>The state buffers of parameter <paramref name="index"/>, in <see cref="BufferNames"/> order; created as zeros on first use.</summary>
    protected float[][] State(int index)
    {
        if (buffers[index] is { } existing)
        {
            return existing;
        }
        var created = new float[BufferNames.Count][];
        for (int b = 0; b < created.Length; b++)
        {
            created[b] = new float[parameters[index].Length];
        }
        buffers[index] = created;
        return created;
    }

    /// <summary>Increments and returns the step count of parameter <paramref name="index"/>.</summary>
    protected long IncrementStep(int index) => steps[index] += 1;

    /// <summary>The gradient of parameter <paramref name="index"/>, or null; throws if its shape does not match.</summary>
    protected Tensor? GradientOf(int index)
    {
        var p = parameters[index];
        var grad = p.Grad;
        if (grad is not null && !ShapeUtil.Equal(grad.ShapeSpan, p.ShapeSpan))
        {
            throw new InvalidOperationException(
                $"Parameter {index} has shape {ShapeUtil.Format(p.ShapeSpan)} but its gradient has shape {ShapeUtil.Format(grad.ShapeSpan)}.");
        }
        return grad;
    }

    private static string Key(int index, string name) => string.Create(CultureInfo.InvariantCulture, $"state.{index}.{name}");

    private (int Index, string Name) ParseKey(string key, IReadOnlyList<string> names)
    {
        var parts = key.Split('.');
        if (parts.Length == 3 && parts[0] == "state"
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            && index < parameters.Count
            && (IndexOf(names, parts[2]) >= 0 || (CountsSteps && parts[2] == StepName)))
        {
            return (index, parts[2]);
        }
        var expected = string.Join(", ", CountsSteps ? [.. names, StepName] : names);
        throw new ArgumentException(
            $"Unexpected optimizer state key \"{key}\": expected state.{{i}}.{{name}} with i in [0, {parameters.Count}) and name one of [{expected}].", nameof(key));
    }

    private static int IndexOf(IReadOnlyList<string> names, string name)
    {
        for (int i = 0; i < names.Count; i++)
        {
            if (names[i] == name)
            {
                return i;
            }
        }
        return -1;
    }
}
