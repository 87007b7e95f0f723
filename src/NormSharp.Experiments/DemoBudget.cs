namespace NormSharp.Cli.Experiments;

/// <summary>
/// How much work the demo does: epochs per experiment (steps scaled to the training set, at most the
/// step counts given here) and a wall-clock limit. Each experiment gets a
/// share of the time left; a run that reaches its share stops early (the report says so), and the
/// runs after it in the same experiment take no more steps than it did, so compared runs stay
/// comparable step for step.
/// </summary>
internal sealed record DemoBudget(
    string Name,
    int? TrainSamples,
    int? TestSamples,
    int EvalSamples,
    int ProbeSamples,
    int MlpSteps,
    EvalSchedule MlpEval,
    double MlpLearningRate,
    double[] SweepLearningRates,
    int SweepSteps,
    int CnnSteps,
    int CnnEvalEvery,
    int CnnBatchSize,
    double CnnLearningRate,
    double TotalSeconds)
{
    /// <summary>Target test accuracy for "steps to target" (the 80% on Fashion-MNIST).</summary>
    public double TargetAccuracy { get; init; } = 0.80;

    /// <summary>Steps of each row-by-row run of the sequence section (LSTM, BN-LSTM, LN-LSTM; SequenceExperiment.cs).</summary>
    public int SequenceSteps { get; init; } = 900;

    /// <summary>Evaluate the row-by-row runs every this many steps.</summary>
    public int SequenceEvalEvery { get; init; } = 75;

    /// <summary>Steps of each variable-length run (masked and plain batch norm).</summary>
    public int VariableLengthSteps { get; init; } = 400;

    /// <summary>Share of the time budget for the sequence section, next to <see cref="Shares"/>.</summary>
    public double SequenceShare { get; init; } = 0.25;

    /// <summary>
    /// Epochs of each experiment over the training set it runs on: paper MLP, learning-rate sweep, CNN (each CNN run).
    /// 10 epochs of the paper MLP compare convergence before the 3 × 100 network overfits 6,000 images
    /// (100 epochs of them, the old fixed 10,000 steps, measured overfitting and favoured the plain network).
    /// </summary>
    public (double Mlp, double Sweep, double Cnn) Epochs { get; init; } = (10, 3, 3);

    /// <summary>
    /// The CNN's second Adam learning rate, 100 × <see cref="CnnLearningRate"/>: batch norm trains at it, the plain CNN does not
    /// (one epoch of the embedded 6,000 images, seed 0: test accuracy 0.799 with batch norm, 0.100 without; at 0.03 the plain
    /// CNN still reached 0.760 in two epochs, so 0.03 shows no difference worth a section).
    /// </summary>
    public double CnnHighLearningRate { get; init; } = 0.1;

    /// <summary>Shares of the time budget: paper MLP, learning-rate sweep, CNN.</summary>
    public (double Mlp, double Sweep, double Cnn) Shares { get; init; } = (0.30, 0.25, 0.45);

    /// <summary>The small-batch section (BN, Renorm, Ghost, GroupNorm against batch size; recalibration).</summary>
    public SmallBatchBudget SmallBatch { get; init; } = SmallBatchBudget.Quick;

    /// <summary>The small-batch section's share of the time budget, on the same scale as <see cref="Shares"/>; it runs last.</summary>
    public double SmallBatchShare { get; init; } = 0.2;

    /// <summary>
    /// This budget for <paramref name="trainSamples"/> training images: each experiment's steps are its
    /// <see cref="Epochs"/> × (training images / batch), at least 1 and at most the step count given
    /// (<see cref="MlpSteps"/> etc.: what the time budget allows); the CNN's curve gets about 12 points.
    /// </summary>
    public DemoBudget SizedFor(int trainSamples)
    {
        int cnnSteps = StepsFor(Epochs.Cnn, trainSamples, CnnBatchSize, CnnSteps);
        return this with
        {
            MlpSteps = StepsFor(Epochs.Mlp, trainSamples, PaperMlpExperiment.BatchSize, MlpSteps),
            SweepSteps = StepsFor(Epochs.Sweep, trainSamples, PaperMlpExperiment.BatchSize, SweepSteps),
            CnnSteps = cnnSteps,
            CnnEvalEvery = Math.Max(1, cnnSteps / 12),
        };
    }

    /// <summary><paramref name="epochs"/> epochs of <paramref name="trainSamples"/> in batches of <paramref name="batchSize"/> (last partial batch dropped), between 1 and <paramref name="maxSteps"/> steps.</summary>
    public static int StepsFor(double epochs, int trainSamples, int batchSize, int maxSteps) =>
        Math.Clamp((int)Math.Round(epochs * (trainSamples / batchSize)), 1, Math.Max(1, maxSteps));

    /// <summary>
    /// The full demo: under 10 minutes on a 2-core machine. The MLP runs are cheap (a few ms a step);
    /// the CNN's four runs take what is left, which is why its share is the largest and its steps may be cut.
    /// The step counts are caps: on the embedded 6,000 images the epochs decide (MLP 1,000 steps, sweep 300,
    /// CNN 279 per run); on the full 60,000 the caps do (MLP 10 epochs, sweep 1, CNN 2 per run).
    /// The budget covers loading the data and every evaluation; writing figures and the report comes after.
    /// </summary>
    public static DemoBudget Full { get; } = new(
        Name: "full", TrainSamples: null, TestSamples: null, EvalSamples: 2000, ProbeSamples: 1000,
        MlpSteps: 10000, MlpEval: new(Every: 100, DenseEvery: 20, DenseUntil: 1000), MlpLearningRate: 0.5,
        SweepLearningRates: [0.05, 0.2, 1, 5, 20], SweepSteps: 1000,
        CnnSteps: 1874, CnnEvalEvery: 150, CnnBatchSize: 64, CnnLearningRate: 1e-3,
        TotalSeconds: 540)
    {
        Shares = (0.15, 0.15, 0.45),
        SmallBatch = SmallBatchBudget.Full,
        SmallBatchShare = 0.25,
    };

    /// <summary>--quick: under a minute, on 6,000 training and 1,000 test images (curves and final accuracies on the same 1,000); 6 epochs of the MLP, 2 of the sweep, half of each CNN run; the paper's sections only.</summary>
    public static DemoBudget Quick { get; } = new(
        Name: "quick", TrainSamples: 6000, TestSamples: 1000, EvalSamples: 1000, ProbeSamples: 500,
        MlpSteps: 600, MlpEval: new(Every: 20, DenseEvery: 10, DenseUntil: 200), MlpLearningRate: 0.5,
        SweepLearningRates: [0.05, 1, 20], SweepSteps: 200,
        CnnSteps: 200, CnnEvalEvery: 20, CnnBatchSize: 64, CnnLearningRate: 1e-3,
        TotalSeconds: 45)
    {
        Epochs = (6, 2, 0.5),
        // Under a minute leaves too little for the small-batch and sequence sections to train at all: they run in the full demo.
        SmallBatchShare = 0,
        SequenceShare = 0,
    };

    /// <summary>
    /// A few seconds, for tests of the pipeline (every file written, nothing learned). Its time limit never binds on a
    /// working machine: the tests check every promised row, and a loaded CI machine once took 73 s for this run.
    /// </summary>
    public static DemoBudget Tiny { get; } = new(
        Name: "tiny", TrainSamples: 600, TestSamples: 300, EvalSamples: 200, ProbeSamples: 100,
        MlpSteps: 20, MlpEval: 5, MlpLearningRate: 0.5,
        SweepLearningRates: [0.1, 2], SweepSteps: 5,
        CnnSteps: 3, CnnEvalEvery: 1, CnnBatchSize: 16, CnnLearningRate: 1e-3,
        TotalSeconds: 3600)
    {
        SequenceSteps = 3,
        SequenceEvalEvery = 1,
        VariableLengthSteps = 3,
        SmallBatch = SmallBatchBudget.Tiny,
    };
}

/// <summary>A wall-clock budget split among stages in proportion to their shares of what is left.</summary>
internal sealed class TimeBudget(double totalSeconds)
{
    private readonly DateTime end = DateTime.UtcNow.AddSeconds(totalSeconds);

    public double TotalSeconds { get; } = totalSeconds;

    /// <summary>The deadline of a stage whose share is <paramref name="share"/> out of <paramref name="remainingShares"/> (this stage included).</summary>
    public DateTime StageDeadline(double share, double remainingShares)
    {
        var now = DateTime.UtcNow;
        var left = end - now;
        return left <= TimeSpan.Zero ? now : now + left * (share / remainingShares);
    }

    /// <summary>The deadline of the next of <paramref name="runsLeft"/> equal runs before <paramref name="stageDeadline"/>.</summary>
    public static DateTime RunDeadline(DateTime stageDeadline, int runsLeft)
    {
        var now = DateTime.UtcNow;
        var left = stageDeadline - now;
        return left <= TimeSpan.Zero ? now : now + left / Math.Max(1, runsLeft);
    }
}
