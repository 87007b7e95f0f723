using System.Globalization;

namespace NormSharp.Optim;

/// <summary>
/// Base class of optimizers (PyTorch's <c>torch.optim.Optimizer</c>) with one parameter group: the parameter list,
/// the learning rate, and per-parameter state that <see cref="StateDict"/> exports and <see cref="LoadStateDict"/>
/// restores exactly, so that a run resumed from a checkpoint continues bit for bit.
/// </summary>
/// <remarks>
/// State keys are PyTorch's: <c>state.{i}.{name}</c> with i the parameter's index in the list given to the
/// constructor, e.g. <c>state.0.momentum_buffer</c>, <c>state.3.exp_avg</c>, <c>state.3.exp_avg_sq</c>, and
/// <c>state.3.step</c> (a one-element tensor). A parameter has state only once a step has updated it (it had a
/// gradient). Hyperparameters, including the learning rate, are not part of the state: construct the optimizer with
/// the same arguments and restore a schedule through <see cref="LRScheduler.LastEpoch"/>.
/// </remarks>
public abstract class Optimizer
{
    private const string StepName = "step";

    private readonly Tensor[] parameters;
    private readonly float[][]?[] buffers;
    private readonly long[] steps;
    private double learningRate;

    /// <summary>Takes the parameters to optimize, in a fixed order (it numbers the state keys).</summary>
    /// <exception cref="ArgumentException">The list is empty, or holds a null, a non-leaf tensor, or a tensor twice.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="learningRate"/> is negative or NaN.</exception>
    protected Optimizer(IEnumerable<Tensor> parameters, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        this.parameters = [.. parameters];
        if (this.parameters.Length == 0)
        {
            throw new ArgumentException("The optimizer got an empty parameter list.", nameof(parameters));
        }
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < this.parameters.Length; i++)
        {
            var p = this.parameters[i] ?? throw new ArgumentException($"Parameter {i} is null.", nameof(parameters));
            if (!p.IsLeaf)
            {
                throw new ArgumentException(
                    $"Parameter {i} (shape {ShapeUtil.Format(p.ShapeSpan)}) is not a leaf tensor; an optimizer can only update leaves.", nameof(parameters));
            }
            if (!seen.Add(p))
            {
                throw new ArgumentException($"Parameter {i} (shape {ShapeUtil.Format(p.ShapeSpan)}) appears more than once in the parameter list.", nameof(parameters));
            }
        }
        if (!(learningRate >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"Invalid learning rate: {learningRate}; it must be >= 0.");
        }
        buffers = new float[][]?[this.parameters.Length];
        steps = new long[this.parameters.Length];
        this.learningRate = learningRate;
    }

    /// <summary>The parameters, in the order given to the constructor.</summary>
    public IReadOnlyList<Tensor> Parameters => parameters;

    /// <summary>The learning rate used by the next <see cref="Step"/>; schedules set it between steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or NaN.</exception>
    public double LearningRate
    {
        get => learningRate;
        set
        {
            if (!(value >= 0))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"Invalid learning rate: {value}; it must be >= 0.");
            }
            learningRate = value;
        }
    }

    /// <summary>Updates every parameter that has a gradient; parameters whose <see cref="Tensor.Grad"/> is null are skipped.</summary>
    public abstract void Step();

    /// <summary>Clears the gradients of every parameter (sets them to null, as PyTorch's default set_to_none).</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters)
        {
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
        for (int i = 0; i < parameters.Length; i++)
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
        var loaded = new float[][]?[parameters.Length];
        var loadedSteps = new long[parameters.Length];
        var present = new bool[parameters.Length];
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
        for (int i = 0; i < parameters.Length; i++)
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
        Array.Copy(loaded, buffers, loaded.Length);
        Array.Copy(loadedSteps, steps, steps.Length);
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
    protected long IncrementStep(int index) => ++steps[index];

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
            && index < parameters.Length
            && (IndexOf(names, parts[2]) >= 0 || (CountsSteps && parts[2] == StepName)))
        {
            return (index, parts[2]);
        }
        var expected = string.Join(", ", CountsSteps ? [.. names, StepName] : names);
        throw new ArgumentException(
            $"Unexpected optimizer state key \"{key}\": expected state.{{i}}.{{name}} with i in [0, {parameters.Length}) and name one of [{expected}].", nameof(key));
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
