using System.Globalization;
using NormSharp.Nn;
using NormSharp.Optim;

namespace NormSharp.Serialization;

/// <summary>
/// Checkpoints: a module's state dict, optionally an optimizer's state and a string metadata map, in
/// one safetensors file, written atomically, so that training resumed from it continues exactly as if
/// it had never stopped.
/// </summary>
/// <remarks>
/// Layout of the file: module entries under their PyTorch keys (<c>0.weight</c>,
/// <c>features.1.num_batches_tracked</c>), so that other tools read them as an ordinary safetensors
/// state dict; optimizer entries under <see cref="OptimizerPrefix"/> (<c>optimizer.state.0.exp_avg</c>).
/// Float state is F32 (bit for bit); integer state (<see cref="Int64Scalar"/>) is I64 of shape []. An
/// optimizer's step counts are whatever its state dict holds (float32 scalars, as in PyTorch: exact to 2^24).
/// Metadata keys starting with <c>normsharp.</c> are reserved: <see cref="FormatKey"/>, and with optimizer
/// state <see cref="OptimizerKey"/> (the optimizer's type name) and <see cref="LearningRateKey"/> (its current
/// learning rate, round-trip exact; restored on load as PyTorch's <c>load_state_dict</c> restores
/// <c>lr</c>). A learning-rate schedule is restored by creating it over the optimizer <i>before</i> loading
/// and then setting <see cref="LRScheduler.LastEpoch"/> (keep the epoch in <c>metadata</c>).
/// What a checkpoint does not hold: random-number generator state (re-create data loaders and dropout
/// generators from a seed and the epoch) and the optimizer's other constructor arguments (momentum,
/// betas, weight decay: build the optimizer with the same ones).
/// </remarks>
public static class Checkpoint
{
    /// <summary>Prefix of optimizer entries in the file.</summary>
    public const string OptimizerPrefix = "optimizer.";

    /// <summary>Metadata key naming the checkpoint layout ("normsharp-checkpoint-1").</summary>
    public const string FormatKey = "normsharp.format";

    /// <summary>Metadata key present when the file holds optimizer state; its value is the optimizer's type name.</summary>
    public const string OptimizerKey = "normsharp.optimizer";

    /// <summary>Metadata key of the optimizer's learning rate at the time of saving (invariant culture, round-trip format).</summary>
    public const string LearningRateKey = "normsharp.optimizer.learning_rate";

    /// <summary>The value of <see cref="FormatKey"/> this version writes.</summary>
    public const string FormatVersion = "normsharp-checkpoint-1";

    private const string ReservedMetadataPrefix = "normsharp.";

    /// <summary>
    /// Saves <paramref name="module"/>'s state dict, <paramref name="optimizer"/>'s state when given, and
    /// <paramref name="metadata"/> to <paramref name="path"/>, atomically: on any failure the previous
    /// file at <paramref name="path"/> is untouched.
    /// </summary>
    /// <exception cref="ArgumentException">A module key starts with <see cref="OptimizerPrefix"/> (a child
    /// named "optimizer"), or a metadata key starts with the reserved <c>normsharp.</c>.</exception>
    public static void Save(string path, Module module, Optimizer? optimizer = null, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(path, module, optimizer, metadata, beforeRename: null);

    /// <summary><see cref="Save(string, Module, Optimizer?, IReadOnlyDictionary{string, string}?)"/> with a test hook
    /// that runs after the temporary file is written and flushed, before the rename.</summary>
    internal static void Save(
        string path, Module module, Optimizer? optimizer, IReadOnlyDictionary<string, string>? metadata, Action<string>? beforeRename)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(module);
        var entries = new List<SafeTensorsEntry>();
        // The live tensors, not StateDict()'s copies: the entries below copy each tensor once anyway.
        foreach (var (key, value) in module.LiveState())
        {
            if (key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    $"Module key \"{key}\" starts with \"{OptimizerPrefix}\", which checkpoints reserve for optimizer state.", nameof(module));
            }
            entries.Add(SafeTensorsEntry.FromTensor(key, value));
        }
        var allMetadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
            {
                if (key.StartsWith(ReservedMetadataPrefix, StringComparison.Ordinal))
                {
                    throw new ArgumentException(
                        $"Metadata key \"{key}\" starts with \"{ReservedMetadataPrefix}\", which is reserved.", nameof(metadata));
                }
                allMetadata[key] = value;
            }
        }
        allMetadata[FormatKey] = FormatVersion;
        if (optimizer is not null)
        {
            allMetadata[OptimizerKey] = optimizer.GetType().Name;
            allMetadata[LearningRateKey] = optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture);
            foreach (var (key, value) in optimizer.StateDict())
            {
                entries.Add(SafeTensorsEntry.FromTensor(OptimizerPrefix + key, value));
            }
        }
        SafeTensors.WriteFile(path, entries, allMetadata, beforeRename);
    }

    /// <summary>
    /// Reads a checkpoint (or any safetensors state dict) without applying it: entries split into module
    /// and optimizer state, converted to tensors (<see cref="SafeTensorsEntry.ToTensor"/>: float dtypes to
    /// float32, integer scalars to exact <see cref="Int64Scalar"/>s).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is malformed; the message says why.</exception>
    public static CheckpointContents Read(string path)
    {
        var file = SafeTensors.ReadFile(path);
        var moduleState = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var optimizerState = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var entry in file.Entries)
        {
            if (entry.Name.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                optimizerState[entry.Name[OptimizerPrefix.Length..]] = entry.ToTensor();
            }
            else
            {
                moduleState[entry.Name] = entry.ToTensor();
            }
        }
        bool hasOptimizer = file.Metadata.ContainsKey(OptimizerKey) || optimizerState.Count > 0;
        return new CheckpointContents(moduleState, hasOptimizer ? optimizerState : null, file.Metadata);
    }

    /// <summary>
    /// Loads a checkpoint into <paramref name="module"/> (in place, see <see cref="Module.LoadStateDict"/>)
    /// and, when given, <paramref name="optimizer"/>.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="module">The model, built with the same architecture.</param>
    /// <param name="optimizer">The optimizer to restore, built over <paramref name="module"/>'s parameters with the same settings.</param>
    /// <param name="strict">True: every module key must match (else nothing changes and the exception lists every
    /// missing key, unexpected key and shape mismatch), and optimizer state of the same optimizer type must be
    /// present if an optimizer is given. False: what matches is loaded and the rest reported in the result.</param>
    /// <remarks>The optimizer's state and learning rate are restored (the learning rate when the file has
    /// <see cref="LearningRateKey"/>); its other hyperparameters are its own.</remarks>
    /// <exception cref="InvalidDataException">The file is malformed, or (strict) does not match the module, lacks
    /// optimizer state or holds another optimizer type's. Nothing is changed in that case.</exception>
    /// <exception cref="ArgumentException">The optimizer rejects the state (e.g. a buffer's shape differs from its
    /// parameter's). Nothing is changed in that case.</exception>
    public static CheckpointLoadResult Load(string path, Module module, Optimizer? optimizer = null, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        var contents = Read(path);
        double? learningRate = null;
        if (optimizer is not null)
        {
            if (contents.OptimizerState is null && strict)
            {
                throw new InvalidDataException($"{path}: checkpoint has no optimizer state (no \"{OptimizerKey}\" metadata or \"{OptimizerPrefix}\" entries).");
            }
            if (strict && contents.Metadata.TryGetValue(OptimizerKey, out var savedType) && savedType != optimizer.GetType().Name)
            {
                throw new InvalidDataException($"{path}: checkpoint holds {savedType} state, the optimizer is {optimizer.GetType().Name}.");
            }
            if (contents.Metadata.TryGetValue(LearningRateKey, out var text))
            {
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value >= 0))
                {
                    throw new InvalidDataException($"{path}: metadata \"{LearningRateKey}\" is \"{text}\", not a learning rate >= 0.");
                }
                learningRate = value;
            }
        }
        // Kept so that the module can be put back if the optimizer rejects its state: a load either
        // happens entirely or not at all.
        var previous = optimizer is not null && contents.OptimizerState is not null ? module.StateDict() : null;
        LoadStateResult moduleResult;
        try
        {
            moduleResult = module.LoadStateDict(contents.ModuleState, strict);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"{path}: {ex.Message}", ex);
        }
        bool optimizerLoaded = false;
        if (optimizer is not null && contents.OptimizerState is not null)
        {
            try
            {
                optimizer.LoadStateDict(contents.OptimizerState);
            }
            catch
            {
                module.LoadStateDict(previous!, strict: false);
                throw;
            }
            if (learningRate is double rate)
            {
                optimizer.LearningRate = rate;
            }
            optimizerLoaded = true;
        }
        return new CheckpointLoadResult(moduleResult, optimizerLoaded, contents.Metadata);
    }
}

/// <summary>A checkpoint's contents as read by <see cref="Checkpoint.Read"/>.</summary>
public sealed class CheckpointContents
{
    internal CheckpointContents(
        Dictionary<string, Tensor> moduleState, Dictionary<string, Tensor>? optimizerState, IReadOnlyDictionary<string, string> metadata)
    {
        ModuleState = moduleState;
        OptimizerState = optimizerState;
        Metadata = metadata;
    }

    /// <summary>The module state dict (every entry without the optimizer prefix).</summary>
    public Dictionary<string, Tensor> ModuleState { get; }

    /// <summary>The optimizer state dict with the prefix removed, or null when the file holds none.</summary>
    public Dictionary<string, Tensor>? OptimizerState { get; }

    /// <summary>The file's metadata, reserved <c>normsharp.</c> keys included.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}

/// <summary>What <see cref="Checkpoint.Load"/> did.</summary>
public sealed class CheckpointLoadResult
{
    internal CheckpointLoadResult(LoadStateResult module, bool optimizerLoaded, IReadOnlyDictionary<string, string> metadata)
    {
        Module = module;
        OptimizerLoaded = optimizerLoaded;
        Metadata = metadata;
    }

    /// <summary>Keys of the module that did not match (empty after a strict load).</summary>
    public LoadStateResult Module { get; }

    /// <summary>True when optimizer state was loaded.</summary>
    public bool OptimizerLoaded { get; }

    /// <summary>The file's metadata, reserved <c>normsharp.</c> keys included.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}
