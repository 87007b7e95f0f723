using System.Globalization;

namespace NormSharp.Nn;

// State dicts: the module's persistent state (parameters, buffers, integer counters) as a flat
// name → tensor map with PyTorch's keys, and loading such a map back in place.
public abstract partial class Module
{
    private readonly List<string> counterNames = [];
    private readonly Dictionary<string, Counter> counters = [];

    /// <summary>
    /// Registers (or replaces) an integer state variable, saved in state dicts as an
    /// <see cref="Int64Scalar"/> and in checkpoints as an int64 scalar (PyTorch's dtype for
    /// <c>num_batches_tracked</c>). The module keeps the value itself; <paramref name="get"/> and
    /// <paramref name="set"/> read and write it.
    /// </summary>
    /// <example><c>RegisterCounter("num_batches_tracked", () => NumBatchesTracked, v => NumBatchesTracked = v);</c></example>
    protected void RegisterCounter(string name, Func<long> get, Action<long> set)
    {
        ArgumentNullException.ThrowIfNull(get);
        ArgumentNullException.ThrowIfNull(set);
        CheckName(name, counters);
        if (parameters.ContainsKey(name) || buffers.ContainsKey(name) || children.ContainsKey(name))
        {
            throw new ArgumentException(
                $"Counter name \"{name}\" is already used by a parameter, buffer or child module of {GetType().Name}.", nameof(name));
        }
        if (!counters.ContainsKey(name))
        {
            counterNames.Add(name);
        }
        counters[name] = new Counter(get, set);
    }

    /// <summary>Integer state of this module and its descendants with dotted names (<c>features.1.num_batches_tracked</c>).</summary>
    public IEnumerable<KeyValuePair<string, long>> NamedCounters()
    {
        foreach (var (prefix, module) in NamedModules())
        {
            foreach (var name in module.counterNames)
            {
                yield return new(Join(prefix, name), module.counters[name].Get());
            }
        }
    }

    /// <summary>
    /// The module's persistent state with PyTorch's keys: for each module, depth first, its
    /// parameters, then its buffers, then its counters, each key dotted by module path
    /// (<c>0.weight</c>, <c>features.1.running_mean</c>, <c>features.1.num_batches_tracked</c>).
    /// Absent (null) parameters and buffers have no key.
    /// </summary>
    /// <returns>
    /// Copies, not references (PyTorch returns references): changing the module afterwards does not
    /// change the dict, and the other way round. Parameters and buffers are float32 tensors of their
    /// shape, not requiring gradients; counters are <see cref="Int64Scalar"/>s of shape [] carrying
    /// the exact value. Keys are in the order above.
    /// </returns>
    /// <remarks>
    /// As in PyTorch, a module or parameter reachable by two paths appears under both keys.
    /// </remarks>
    /// <exception cref="InvalidOperationException">Two state entries would share one key.</exception>
    public Dictionary<string, Tensor> StateDict() =>
        LiveState().ToDictionary(p => p.Key, p => p.Value is Int64Scalar ? p.Value : p.Value.Clone(), StringComparer.Ordinal);

    /// <summary>
    /// The state in <see cref="StateDict"/>'s order without copying: the module's own parameter and
    /// buffer tensors, and a new <see cref="Int64Scalar"/> per counter. For writers that serialize at once.
    /// </summary>
    /// <exception cref="InvalidOperationException">Two state entries would share one key.</exception>
    internal List<KeyValuePair<string, Tensor>> LiveState()
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var state = new List<KeyValuePair<string, Tensor>>();
        foreach (var slot in StateSlots())
        {
            if (!keys.Add(slot.Key))
            {
                throw new InvalidOperationException($"Two state entries of {GetType().Name} share the key \"{slot.Key}\".");
            }
            state.Add(new(slot.Key, slot.Counter is { } counter ? new Int64Scalar(counter.Get()) : slot.Tensor!));
        }
        return state;
    }

    /// <summary>
    /// Copies <paramref name="state"/> into this module's parameters, buffers and counters, in place
    /// (existing tensors keep their identity, so optimizers holding them stay valid).
    /// </summary>
    /// <param name="state">Name → value, keys as <see cref="StateDict"/> writes them. A parameter or buffer
    /// value must have exactly the target's shape; a counter value must have shape [] or [1] and an
    /// integral value (an <see cref="Int64Scalar"/> is read exactly, a float tensor by its value). A counter
    /// absent from the state (<c>num_batches_tracked</c> of an old checkpoint) is set to 0, as PyTorch does,
    /// and is not reported missing. A parameter shared by two modules is one tensor, copied into in place under
    /// each of its keys: it stays shared.</param>
    /// <param name="strict">True (the default): every key must match, and any missing key, unexpected
    /// key or shape mismatch throws, listing all of them, before anything is copied. False: entries that
    /// match are copied, the rest are skipped and returned.</param>
    /// <returns>The keys that were missing or unexpected and the shapes that did not match (all empty
    /// after a successful strict load).</returns>
    /// <exception cref="ArgumentException">Strict and the keys or shapes do not match; or a counter value
    /// is not an integer (in both modes).</exception>
    public LoadStateResult LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        var slots = StateSlots().ToList();
        var expected = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        var mismatches = new List<StateShapeMismatch>();
        var tensorCopies = new List<(Tensor Target, Tensor Source)>();
        var counterSets = new List<(Counter Target, long Value)>();
        foreach (var slot in slots)
        {
            expected.Add(slot.Key);
            if (!state.TryGetValue(slot.Key, out var value))
            {
                // PyTorch loads a BatchNorm state dict without num_batches_tracked (checkpoints from before the
                // counter existed, weights converted from other frameworks) with the counter at 0.
                if (slot.Counter is { } absent)
                {
                    counterSets.Add((absent, 0));
                    continue;
                }
                missing.Add(slot.Key);
                continue;
            }
            if (value is null)
            {
                throw new ArgumentException($"State entry \"{slot.Key}\" is null.", nameof(state));
            }
            if (slot.Counter is { } counter)
            {
                if (value.Length != 1 || value.Rank > 1)
                {
                    mismatches.Add(new StateShapeMismatch(slot.Key, [], value.Shape));
                    continue;
                }
                counterSets.Add((counter, CounterValue(slot.Key, value)));
            }
            else
            {
                var target = slot.Tensor!;
                if (!target.ShapeSpan.SequenceEqual(value.ShapeSpan))
                {
                    mismatches.Add(new StateShapeMismatch(slot.Key, target.Shape, value.Shape));
                    continue;
                }
                tensorCopies.Add((target, value));
            }
        }
        var unexpected = state.Keys.Where(k => !expected.Contains(k)).ToList();
        var result = new LoadStateResult(missing, unexpected, mismatches);
        if (strict && !result.IsClean)
        {
            throw new ArgumentException(result.Describe(GetType().Name), nameof(state));
        }
        foreach (var (target, source) in tensorCopies)
        {
            source.AsSpan().CopyTo(target.AsSpan());
        }
        foreach (var (target, value) in counterSets)
        {
            target.Set(value);
        }
        return result;
    }

    private static long CounterValue(string key, Tensor value)
    {
        if (value is Int64Scalar exact)
        {
            return exact.Value;
        }
        // A float tensor is accepted when it holds an integer that a long can represent (a file written
        // with F32 counters, or a state dict built by hand).
        double v = value.Item();
        if (!double.IsFinite(v) || v != Math.Floor(v) || Math.Abs(v) >= 9.2233720368547758E18)
        {
            throw new ArgumentException(
                $"State entry \"{key}\" is an integer counter but holds {v.ToString("R", CultureInfo.InvariantCulture)}.", nameof(value));
        }
        return (long)v;
    }

    // Every state entry in PyTorch's state_dict order: own parameters, own buffers, own counters, then
    // children recursively. No de-duplication (PyTorch lists shared modules under every path), but a
    // module that contains itself is rejected instead of recursing forever.
    private List<StateSlot> StateSlots()
    {
        CheckComponentsRegistered();
        var slots = new List<StateSlot>();
        var ancestors = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        CollectStateSlots("", ancestors, slots);
        return slots;
    }

    private void CollectStateSlots(string prefix, HashSet<Module> ancestors, List<StateSlot> slots)
    {
        if (!ancestors.Add(this))
        {
            throw new InvalidOperationException($"Module {GetType().Name} at \"{prefix}\" contains itself.");
        }
        foreach (var name in parameterNames)
        {
            if (parameters[name] is { } p)
            {
                slots.Add(new StateSlot(Join(prefix, name), p, null));
            }
        }
        foreach (var name in bufferNames)
        {
            if (buffers[name] is { } b)
            {
                slots.Add(new StateSlot(Join(prefix, name), b, null));
            }
        }
        foreach (var name in counterNames)
        {
            slots.Add(new StateSlot(Join(prefix, name), null, counters[name]));
        }
        foreach (var name in childNames)
        {
            children[name].CollectStateSlots(Join(prefix, name), ancestors, slots);
        }
        ancestors.Remove(this);
    }

    private sealed record Counter(Func<long> Get, Action<long> Set);

    private readonly record struct StateSlot(string Key, Tensor? Tensor, Counter? Counter);
}

/// <summary>A state entry whose shape differs from the module's (reported by <see cref="Module.LoadStateDict"/>).</summary>
public sealed class StateShapeMismatch
{
    internal StateShapeMismatch(string key, int[] expectedShape, int[] actualShape)
    {
        Key = key;
        ExpectedShape = expectedShape;
        ActualShape = actualShape;
    }

    /// <summary>The state key.</summary>
    public string Key { get; }

    /// <summary>The module's shape ([] for a counter, which also accepts [1]).</summary>
    public IReadOnlyList<int> ExpectedShape { get; }

    /// <summary>The shape of the value offered.</summary>
    public IReadOnlyList<int> ActualShape { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"\"{Key}\": expected {ShapeUtil.Format(ExpectedShape.ToArray())}, got {ShapeUtil.Format(ActualShape.ToArray())}";
}

/// <summary>What <see cref="Module.LoadStateDict"/> could not match (PyTorch's <c>_IncompatibleKeys</c>, plus shapes).</summary>
public sealed class LoadStateResult
{
    internal LoadStateResult(List<string> missingKeys, List<string> unexpectedKeys, List<StateShapeMismatch> shapeMismatches)
    {
        MissingKeys = missingKeys;
        UnexpectedKeys = unexpectedKeys;
        ShapeMismatches = shapeMismatches;
    }

    /// <summary>Keys the module has but the state did not provide (left unchanged), in state-dict order.</summary>
    public IReadOnlyList<string> MissingKeys { get; }

    /// <summary>Keys the state provided that the module does not have (ignored).</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; }

    /// <summary>Keys present in both whose shapes differ (left unchanged).</summary>
    public IReadOnlyList<StateShapeMismatch> ShapeMismatches { get; }

    /// <summary>True when every key matched with the right shape.</summary>
    public bool IsClean => MissingKeys.Count == 0 && UnexpectedKeys.Count == 0 && ShapeMismatches.Count == 0;

    /// <inheritdoc/>
    public override string ToString() => IsClean ? "All keys matched." : Describe("module");

    internal string Describe(string moduleName)
    {
        var parts = new List<string>();
        if (MissingKeys.Count > 0)
        {
            parts.Add($"{MissingKeys.Count} missing key(s): {Quote(MissingKeys)}");
        }
        if (UnexpectedKeys.Count > 0)
        {
            parts.Add($"{UnexpectedKeys.Count} unexpected key(s): {Quote(UnexpectedKeys)}");
        }
        if (ShapeMismatches.Count > 0)
        {
            parts.Add($"{ShapeMismatches.Count} shape mismatch(es): {string.Join(", ", ShapeMismatches)}");
        }
        return $"Error(s) in loading state dict for {moduleName}: {string.Join("; ", parts)}.";
    }

    private static string Quote(IEnumerable<string> keys) => string.Join(", ", keys.Select(k => "\"" + k + "\""));
}
