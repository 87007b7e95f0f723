namespace NormSharp.Cli.Experiments;

/// <summary>The networks the CLI trains.</summary>
internal enum ModelKind
{
    /// <summary>784 → 256 → 128 → 10, ReLU, a normalization layer before each activation.</summary>
    Mlp,

    /// <summary>The batch norm paper's MNIST network: 784 → 100 → 100 → 100 → 10, sigmoid, normalization before each sigmoid.</summary>
    PaperMlp,

    /// <summary>Two 3 × 3 convolutions (32 and 64 channels), each followed by normalization, ReLU and 2 × 2 max pooling, then 3136 → 128 (normalized, ReLU, dropout 0.3) → 10.</summary>
    Cnn,

    /// <summary>An LSTM (hidden 128) reading the image row by row (28 steps of 28 features), then Linear → classes (SequenceModels.cs).</summary>
    Lstm,

    /// <summary>The same with the batch-normalized LSTM of Cooijmans et al. (2016).</summary>
    BnLstm,

    /// <summary>The same with the layer-normalized LSTM of Ba et al. (2016).</summary>
    LnLstm,
}

/// <summary>Which normalization layer goes before each activation.</summary>
internal enum NormKind
{
    None,
    Batch,
    Layer,
    Group,
    Instance,

    /// <summary>Batch Renormalization (BatchRenorm1d/2d), with the clipping bounds relaxed over the run (<see cref="Models.RenormSchedule"/>).</summary>
    Renorm,

    /// <summary>Ghost batch norm (GhostBatchNorm1d/2d) over chunks of <see cref="Models.GhostVirtualBatchSize"/> samples.</summary>
    Ghost,
}

/// <summary>The optimizers the CLI offers.</summary>
internal enum OptimizerKind
{
    Sgd,
    Adam,
    AdamW,
}

/// <summary>Parsing and display names for the choices, shared by the commands.</summary>
internal static class Choices
{
    public static string Name(ModelKind model) => model switch
    {
        ModelKind.Mlp => "mlp",
        ModelKind.PaperMlp => "paper-mlp",
        ModelKind.Lstm => "lstm",
        ModelKind.BnLstm => "bnlstm",
        ModelKind.LnLstm => "lnlstm",
        _ => "cnn",
    };

    public static string Name(NormKind norm) => norm.ToString().ToLowerInvariant();

    public static string Name(OptimizerKind optimizer) => optimizer.ToString().ToLowerInvariant();

    /// <summary>A label for plots and tables: "batch norm", "no norm", ...</summary>
    public static string Label(NormKind norm) => norm switch
    {
        NormKind.None => "no norm",
        NormKind.Renorm => "batch renorm",
        NormKind.Ghost => "ghost batch norm",
        _ => Name(norm) + " norm",
    };

    /// <summary>"cnn, batch norm"; a recurrent model carries its normalization in its name ("bnlstm").</summary>
    public static string RunName(ModelKind model, NormKind norm) => IsRecurrent(model) ? Name(model) : $"{Name(model)}, {Label(norm)}";

    /// <summary>The row-by-row recurrent models, whose normalization is part of the model (--norm does not apply).</summary>
    public static bool IsRecurrent(ModelKind model) => model is ModelKind.Lstm or ModelKind.BnLstm or ModelKind.LnLstm;

    public static ModelKind ParseModel(string text) => text.Trim().ToLowerInvariant() switch
    {
        "mlp" => ModelKind.Mlp,
        "paper-mlp" or "papermlp" => ModelKind.PaperMlp,
        "cnn" => ModelKind.Cnn,
        "lstm" => ModelKind.Lstm,
        "bnlstm" or "bn-lstm" => ModelKind.BnLstm,
        "lnlstm" or "ln-lstm" => ModelKind.LnLstm,
        _ => throw new ArgumentException($"Unknown model \"{text}\": expected one of mlp, paper-mlp, cnn, lstm, bnlstm, lnlstm."),
    };

    public static NormKind ParseNorm(string text) => text.Trim().ToLowerInvariant() switch
    {
        "none" or "no" => NormKind.None,
        "batch" or "bn" or "batchnorm" => NormKind.Batch,
        "layer" or "ln" or "layernorm" => NormKind.Layer,
        "group" or "gn" or "groupnorm" => NormKind.Group,
        "instance" or "in" or "instancenorm" => NormKind.Instance,
        "renorm" or "brn" or "batchrenorm" => NormKind.Renorm,
        "ghost" or "gbn" or "ghostbatchnorm" => NormKind.Ghost,
        _ => throw new ArgumentException($"Unknown normalization \"{text}\": expected one of none, batch, layer, group, instance, renorm, ghost."),
    };

    public static OptimizerKind ParseOptimizer(string text) => text.Trim().ToLowerInvariant() switch
    {
        "sgd" => OptimizerKind.Sgd,
        "adam" => OptimizerKind.Adam,
        "adamw" => OptimizerKind.AdamW,
        _ => throw new ArgumentException($"Unknown optimizer \"{text}\": expected one of sgd, adam, adamw."),
    };

    /// <summary>Parses a comma-separated list such as "batch,layer,none", keeping order and dropping repeats.</summary>
    public static NormKind[] ParseNormList(string text)
    {
        var norms = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(ParseNorm).Distinct().ToArray();
        return norms.Length > 0 ? norms : throw new ArgumentException($"Expected a comma-separated list of normalizations, got \"{text}\".");
    }
}
