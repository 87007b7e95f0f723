using System.Globalization;
using NormSharp.Nn;
using NormSharp.Serialization;

namespace NormSharp.Cli.Experiments;

/// <summary>
/// What <c>normsharp train</c> keeps in a checkpoint's metadata besides the tensors (the epochs done, the settings it
/// was trained with, each dropout generator's state), and the checks <c>--resume</c> makes with it before training:
/// a checkpoint of another model or optimizer is refused with the options it needs; a different seed, batch size,
/// momentum or weight decay is allowed with a warning (the run is then not the continuation of the first).
/// </summary>
internal sealed class TrainingCheckpoint
{
    private const string ModelKey = "model";
    private const string NormKey = "norm";
    private const string SeedKey = "seed";
    private const string OptimizerKey = "optimizer";
    private const string BatchSizeKey = "batch_size";
    private const string MomentumKey = "momentum";
    private const string WeightDecayKey = "weight_decay";

    /// <summary>Prefix of the metadata entries holding a dropout generator's state, followed by the module's path.</summary>
    private const string GeneratorPrefix = "generator.";

    private readonly IReadOnlyDictionary<string, string> metadata;

    private TrainingCheckpoint(string path, int epochs, double learningRate, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        Epochs = epochs;
        LearningRate = learningRate;
        this.metadata = metadata;
    }

    public string Path { get; }

    /// <summary>Whole epochs the checkpoint has trained.</summary>
    public int Epochs { get; }

    /// <summary>The optimizer's learning rate when the checkpoint was saved.</summary>
    public double LearningRate { get; }

    /// <summary>The metadata to save for <paramref name="result"/>.</summary>
    public static Dictionary<string, string> Metadata(RunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var spec = result.Spec;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [Trainer.EpochsKey] = Invariant(result.EpochsDone),
            [ModelKey] = Choices.Name(spec.Model),
            [NormKey] = Choices.Name(spec.Norm),
            [SeedKey] = Invariant(spec.Seed),
            [OptimizerKey] = Choices.Name(spec.Optimizer),
            [BatchSizeKey] = Invariant(spec.BatchSize),
            [MomentumKey] = spec.Momentum.ToString("R", CultureInfo.InvariantCulture),
            [WeightDecayKey] = spec.WeightDecay.ToString("R", CultureInfo.InvariantCulture),
        };
        foreach (var (name, module) in result.Model.NamedModules())
        {
            if (module is Dropout { Generator: { } generator })
            {
                metadata[GeneratorPrefix + name] = generator.GetState().ToString();
            }
        }
        return metadata;
    }

    /// <summary>Puts each dropout generator of <paramref name="model"/> in the state the checkpoint saved for it (none saved: left as built).</summary>
    /// <exception cref="InvalidDataException">A saved state is malformed or of another seed.</exception>
    public static void RestoreGenerators(Module model, IReadOnlyDictionary<string, string> metadata, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(metadata);
        foreach (var (name, module) in model.NamedModules())
        {
            if (module is Dropout { Generator: { } generator } && metadata.TryGetValue(GeneratorPrefix + name, out var text))
            {
                try
                {
                    generator.SetState(GeneratorState.Parse(text));
                }
                catch (Exception ex) when (ex is FormatException or ArgumentException)
                {
                    throw new InvalidDataException($"{path}: metadata \"{GeneratorPrefix + name}\": {ex.Message}", ex);
                }
            }
        }
    }

    /// <summary>Reads the checkpoint that --resume names, without loading its tensors into anything.</summary>
    /// <exception cref="ArgumentException">The path is a folder.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a checkpoint written by normsharp train.</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be read.</exception>
    public static TrainingCheckpoint Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            string inside = System.IO.Path.Combine(path, "model.safetensors");
            throw new ArgumentException($"--resume {path} is a folder; expected a checkpoint file" +
                (File.Exists(inside) ? $" such as {inside}." : " (model.safetensors, written by normsharp train)."));
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"--resume {path}: no such file.", path);
        }
        CheckpointContents contents;
        try
        {
            contents = Checkpoint.Read(path);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new UnauthorizedAccessException($"--resume {path}: cannot read the file ({ex.Message}).", ex);
        }
        var metadata = contents.Metadata;
        if (contents.OptimizerState is null)
        {
            throw new InvalidDataException($"{path} holds no optimizer state; --resume needs a checkpoint written by normsharp train.");
        }
        if (!metadata.TryGetValue(Trainer.EpochsKey, out var epochsText) ||
            !int.TryParse(epochsText, NumberStyles.None, CultureInfo.InvariantCulture, out int epochs))
        {
            throw new InvalidDataException($"{path} has no whole-number \"{Trainer.EpochsKey}\" metadata entry; --resume needs a checkpoint written by normsharp train.");
        }
        double learningRate = metadata.TryGetValue(Checkpoint.LearningRateKey, out var rateText) &&
            double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out double rate) ? rate : double.NaN;
        return new TrainingCheckpoint(path, epochs, learningRate, metadata);
    }

    /// <summary>
    /// Checks that a run of <paramref name="model"/>, <paramref name="norm"/> and <paramref name="optimizer"/> can
    /// continue this checkpoint; returns a warning for each other setting that differs from the checkpoint's.
    /// </summary>
    /// <exception cref="ArgumentException">The checkpoint is of another model, normalization or optimizer; the message gives the options it needs.</exception>
    public List<string> Check(ModelKind model, NormKind norm, OptimizerKind optimizer, int seed, int batchSize, double momentum, double weightDecay)
    {
        var mismatches = new List<string>();
        Compare(ModelKey, Choices.Name(model), "--model", mismatches);
        Compare(NormKey, Choices.Name(norm), "--norm", mismatches);
        Compare(OptimizerKey, Choices.Name(optimizer), "--optimizer", mismatches);
        if (mismatches.Count > 0)
        {
            throw new ArgumentException($"--resume {Path} was trained with {string.Join(" ", mismatches.Select(m => m.Split('|')[0]))}; " +
                $"this run has {string.Join(" ", mismatches.Select(m => m.Split('|')[1]))}. Resume with the checkpoint's options.");
        }
        var warnings = new List<string>();
        Warn(SeedKey, Invariant(seed), "--seed", warnings);
        Warn(BatchSizeKey, Invariant(batchSize), "--batch-size", warnings);
        if (optimizer == OptimizerKind.Sgd)
        {
            Warn(MomentumKey, momentum.ToString("R", CultureInfo.InvariantCulture), "--momentum", warnings);
        }
        Warn(WeightDecayKey, weightDecay.ToString("R", CultureInfo.InvariantCulture), "--weight-decay", warnings);
        return warnings;
    }

    /// <summary>Records "--option saved|--option given" when the checkpoint names another value (checkpoints of older versions: norm as "batch norm").</summary>
    private void Compare(string key, string value, string option, List<string> mismatches)
    {
        if (metadata.TryGetValue(key, out var saved))
        {
            string normalized = key == NormKey ? Choices.Name(Choices.ParseNorm(saved.Replace(" norm", "", StringComparison.Ordinal))) : saved;
            if (normalized != value)
            {
                mismatches.Add($"{option} {normalized}|{option} {value}");
            }
        }
    }

    private void Warn(string key, string value, string option, List<string> warnings)
    {
        if (metadata.TryGetValue(key, out var saved) && saved != value)
        {
            warnings.Add($"{option} {value} differs from the checkpoint's {saved}: the resumed run is not the continuation of the first.");
        }
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
