using System.Diagnostics;
using NormSharp.Autograd;
using NormSharp.Data;
using NormSharp.Distributed;
using NormSharp.Nn;
using NormSharp.Optim;
using NormSharp.Serialization;

namespace NormSharp.Cli.Experiments;

/// <summary>What to train: the network, its normalization and the optimizer settings.</summary>
internal sealed record RunSpec(
    string Name,
    ModelKind Model,
    NormKind Norm,
    OptimizerKind Optimizer,
    double LearningRate,
    int BatchSize,
    int Seed,
    double Momentum = 0,
    double WeightDecay = 0);

/// <summary>One evaluation during training.</summary>
/// <param name="Step">Optimizer steps taken so far.</param>
/// <param name="Epoch">Step / steps per epoch.</param>
/// <param name="TrainLoss">Mean training loss over the steps since the previous point.</param>
/// <param name="TrainAccuracy">Training accuracy over those steps (on the batches as they were trained, in training mode).</param>
/// <param name="TestAccuracy">Accuracy on the evaluation set, in evaluation mode.</param>
/// <param name="TestLoss">Mean cross-entropy on the evaluation set.</param>
/// <param name="Seconds">Wall-clock seconds since the run started.</param>
internal sealed record EvalPoint(int Step, double Epoch, double TrainLoss, double TrainAccuracy, double TestAccuracy, double TestLoss, double Seconds);

/// <summary>How a training run went.</summary>
internal sealed class RunResult(RunSpec spec, Sequential model, Optimizer optimizer, int stepsPerEpoch)
{
    public RunSpec Spec { get; } = spec;

    /// <summary>The trained network (for checkpoints and probes).</summary>
    public Sequential Model { get; } = model;

    /// <summary>The optimizer, whose state a checkpoint saves with the model.</summary>
    public Optimizer Optimizer { get; } = optimizer;

    /// <summary>Whole epochs trained, counting those of the checkpoint the run resumed from.</summary>
    public int EpochsDone { get; set; }

    public int StepsPerEpoch { get; } = stepsPerEpoch;

    public List<EvalPoint> Points { get; } = [];

    public int StepsDone { get; set; }

    /// <summary>Seconds spent in training steps (forward, backward, update), evaluation excluded.</summary>
    public double TrainSeconds { get; set; }

    /// <summary>Wall-clock seconds, evaluation included.</summary>
    public double TotalSeconds { get; set; }

    /// <summary>True when the time budget ended the run before its planned steps.</summary>
    public bool StoppedByBudget { get; set; }

    /// <summary>True when cancellation (Ctrl-C) stopped the run; it then skips its final evaluations.</summary>
    public bool Interrupted { get; set; }

    /// <summary>Accuracy on the whole test set after the last step.</summary>
    public double FinalTestAccuracy { get; set; } = double.NaN;

    public double FinalTestLoss { get; set; } = double.NaN;

    public double SecondsPerEpoch => StepsDone == 0 ? double.NaN : TrainSeconds / StepsDone * StepsPerEpoch;

    /// <summary>The first evaluated step at which test accuracy reached <paramref name="target"/>, or null.</summary>
    public int? StepsToAccuracy(double target) => Points.FirstOrDefault(p => p.TestAccuracy >= target)?.Step;
}

/// <summary>
/// When to evaluate: every <paramref name="Every"/> steps, and every <paramref name="DenseEvery"/>
/// steps up to <paramref name="DenseUntil"/>, where the curves change fastest and "steps to target"
/// needs the resolution.
/// </summary>
internal readonly record struct EvalSchedule(int Every, int DenseEvery = 0, int DenseUntil = 0)
{
    public static implicit operator EvalSchedule(int every) => new(every);

    /// <summary><paramref name="points"/> evaluations per epoch, the last one at the epoch's end, whether or not points divides the epoch.</summary>
    public static EvalSchedule PerEpoch(int stepsPerEpoch, int points) =>
        new(int.MaxValue) { StepsPerEpoch = Math.Max(1, stepsPerEpoch), PointsPerEpoch = Math.Max(1, points) };

    /// <summary>With <see cref="PointsPerEpoch"/> > 0, the schedule is per epoch and the other fields are ignored.</summary>
    public int PointsPerEpoch { get; private init; }

    public int StepsPerEpoch { get; private init; }

    public bool IsDue(int step)
    {
        if (PointsPerEpoch > 0)
        {
            // Due when step crosses a multiple of StepsPerEpoch / PointsPerEpoch (integer arithmetic, no drift).
            return (long)step * PointsPerEpoch / StepsPerEpoch > (long)(step - 1) * PointsPerEpoch / StepsPerEpoch;
        }
        return step % Math.Max(1, Every) == 0 || (DenseEvery > 0 && step <= DenseUntil && step % DenseEvery == 0);
    }
}

/// <summary>Callbacks a run reports to; all optional.</summary>
internal sealed class TrainObserver
{
    /// <summary>After every step: (steps done, planned steps).</summary>
    public Action<int, int>? OnStep { get; init; }

    /// <summary>After every evaluation, with the model in evaluation mode (to probe activations).</summary>
    public Action<EvalPoint, Sequential>? OnEval { get; init; }

    /// <summary>After every completed epoch, with <see cref="RunResult.EpochsDone"/> and <see cref="RunResult.StepsDone"/> up to date (to write a checkpoint).</summary>
    public Action<RunResult>? OnEpochEnd { get; init; }
}

/// <summary>The training loop shared by every command: mini-batch SGD-style training with periodic evaluation.</summary>
internal static class Trainer
{
    /// <summary>
    /// Trains a fresh model for <paramref name="steps"/> optimizer steps (or until <paramref name="deadline"/>),
    /// evaluating on <paramref name="evalSet"/> at the steps <paramref name="schedule"/> names and at
    /// the end, then on the whole <paramref name="test"/> set. With <paramref name="resumeFrom"/>, the model and
    /// optimizer start from that checkpoint (written by <see cref="SaveCheckpoint"/>) and training continues with
    /// the epoch after its last one: each epoch's shuffle depends only on the seed and the epoch's number, and the
    /// checkpoint holds the dropout generators' state, so a resumed run takes the same batches and masks, and reaches
    /// the same bits, as one that never stopped; the learning rate is <paramref name="spec"/>'s, not the checkpoint's.
    /// With <paramref name="stopOnNonFiniteLoss"/>, a NaN or infinite training loss throws
    /// <see cref="TrainingDivergedException"/> (the learning-rate sweep records such runs instead).
    /// With a <paramref name="group"/> of several ranks, this rank trains data-parallel (<see cref="DataParallelRun"/>).
    /// </summary>
    public static RunResult Run(
        RunSpec spec, Dataset train, Dataset test, Dataset evalSet, int steps, EvalSchedule schedule,
        DateTime? deadline = null, TrainObserver? observer = null, CancellationToken cancellation = default, string? resumeFrom = null,
        ProcessGroup? group = null, bool stopOnNonFiniteLoss = false)
    {
        var generator = new Generator(spec.Seed);
        var model = Models.Create(spec.Model, spec.Norm, train.SampleShape, Math.Max(train.ClassCount, test.ClassCount), generator);
        var optimizer = Models.CreateOptimizer(spec.Optimizer, model.Parameters(), spec.LearningRate, spec.Momentum, spec.WeightDecay);
        int firstEpoch = 0;
        if (resumeFrom is not null)
        {
            firstEpoch = LoadCheckpoint(resumeFrom, model, optimizer);
            optimizer.LearningRate = spec.LearningRate;
        }
        var parallel = group is { WorldSize: > 1 } ? new DataParallelRun(group, spec.BatchSize) : null;
        Module forward = parallel?.Wrap(model) ?? model;
        DataLoader LoaderFor(int epoch) => parallel?.Loader(train, unchecked(spec.Seed * 1_000_003 + epoch + 1), epoch) ??
            new(train, spec.BatchSize, shuffle: true, dropLast: true, generator: new Generator(unchecked(spec.Seed * 1_000_003 + epoch + 1)));
        var loader = LoaderFor(firstEpoch);
        if (loader.Count == 0)
        {
            throw new ArgumentException($"The training set has {train.Count} samples, fewer than one batch of {spec.BatchSize}.");
        }
        var result = new RunResult(spec, model, optimizer, loader.Count);
        var total = Stopwatch.StartNew();
        var trainClock = new Stopwatch();
        double lossSum = 0;
        int correct = 0, seen = 0, batchesSinceEval = 0;
        bool separateFinal = !ReferenceEquals(evalSet, test);
        // The evaluations still owed after training stops (the last curve point, the whole test set), so that
        // the run stops early enough to finish them by the deadline.
        var owedAfterStop = TimeSpan.Zero;

        void Evaluate(int step)
        {
            var evalClock = Stopwatch.StartNew();
            var (accuracy, loss) = Evaluation.Accuracy(model, evalSet);
            var evalTime = evalClock.Elapsed;
            if (parallel is not null)
            {
                (lossSum, correct, seen) = parallel.Totals(lossSum, correct, seen);
            }
            owedAfterStop = evalTime * (1 + (separateFinal ? (double)test.Count / Math.Max(1, evalSet.Count) : 0));
            var point = new EvalPoint(step, firstEpoch + (double)step / loader.Count,
                batchesSinceEval > 0 ? lossSum / batchesSinceEval : double.NaN,
                seen > 0 ? (double)correct / seen : double.NaN, accuracy, loss, total.Elapsed.TotalSeconds);
            result.Points.Add(point);
            if (observer?.OnEval is { } onEval)
            {
                model.Eval();
                onEval(point, model);
                model.Train();
            }
            lossSum = 0;
            correct = seen = batchesSinceEval = 0;
        }

        Evaluate(0);
        var renormSchedule = spec.Norm == NormKind.Renorm ? Models.RenormSchedule(steps) : null;
        int step = 0;
        for (int epoch = firstEpoch; step < steps; epoch++)
        {
            foreach (var batch in epoch == firstEpoch ? loader : LoaderFor(epoch))
            {
                if (step >= steps)
                {
                    break;
                }
                bool stop = cancellation.IsCancellationRequested || (deadline is { } end && DateTime.UtcNow + owedAfterStop >= end);
                if (parallel is not null && (deadline is not null || cancellation.CanBeCanceled))
                {
                    stop = parallel.AgreeToStop(stop);   // every rank stops at the same step
                }
                if (stop)
                {
                    result.Interrupted = cancellation.IsCancellationRequested;
                    result.StoppedByBudget = true;
                    break;
                }
                double lossValue;
                using (Tensor.NewDisposeScope())   // the step's activations and gradients go back to the pool when it ends
                {
                    trainClock.Start();
                    renormSchedule?.Apply(model, step);
                    optimizer.ZeroGrad();
                    var logits = forward.Forward(batch.Images);
                    var loss = Models.Loss(logits, batch.Labels);
                    loss.Backward();
                    parallel?.SynchronizeGradients();
                    optimizer.Step();
                    trainClock.Stop();
                    lossValue = loss.Item();
                    correct += Evaluation.CountCorrect(logits, batch.Labels);
                }
                step++;
                if (stopOnNonFiniteLoss && !double.IsFinite(lossValue))
                {
                    throw new TrainingDivergedException(
                        $"The training loss became {lossValue} at step {step:N0} (epoch {firstEpoch + (step - 1) / loader.Count + 1}) with {Choices.Name(spec.Optimizer)} " +
                        $"learning rate {spec.LearningRate.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)}: try a lower --lr.");
                }
                lossSum += lossValue;
                batchesSinceEval++;
                seen += batch.Count;
                observer?.OnStep?.Invoke(step, steps);
                if (schedule.IsDue(step) || step == steps)
                {
                    Evaluate(step);
                }
                if (step % loader.Count == 0 && observer?.OnEpochEnd is { } onEpochEnd)
                {
                    result.StepsDone = step;
                    result.EpochsDone = firstEpoch + step / loader.Count;
                    onEpochEnd(result);
                }
            }
            if (result.StoppedByBudget)
            {
                break;
            }
        }
        result.StepsDone = step;
        result.EpochsDone = firstEpoch + step / loader.Count;
        if (result.Interrupted)
        {
            result.TrainSeconds = trainClock.Elapsed.TotalSeconds;
            result.TotalSeconds = total.Elapsed.TotalSeconds;
            return result;
        }
        if (result.Points[^1].Step != step)
        {
            Evaluate(step);
        }
        result.TrainSeconds = trainClock.Elapsed.TotalSeconds;
        (result.FinalTestAccuracy, result.FinalTestLoss) = separateFinal ? Evaluation.Accuracy(model, test) : (result.Points[^1].TestAccuracy, result.Points[^1].TestLoss);
        result.TotalSeconds = total.Elapsed.TotalSeconds;
        return result;
    }

    /// <summary>Metadata key of the number of whole epochs a checkpoint has trained.</summary>
    public const string EpochsKey = "epochs";

    /// <summary>
    /// Saves the run's model, optimizer state, epoch count, settings (<see cref="TrainingCheckpoint"/>'s keys) and the
    /// state of its dropout generators to <paramref name="path"/> (atomically).
    /// </summary>
    public static void SaveCheckpoint(RunResult result, string path) =>
        Checkpoint.Save(path, result.Model, result.Optimizer, TrainingCheckpoint.Metadata(result));

    /// <summary>Loads a checkpoint strictly into <paramref name="model"/> and <paramref name="optimizer"/>, with its dropout generators' state; returns its epoch count.</summary>
    /// <exception cref="InvalidDataException">The file is not a training checkpoint (<see cref="TrainingCheckpoint.Read"/>) or does not match the model.</exception>
    private static int LoadCheckpoint(string path, Module model, Optimizer optimizer)
    {
        int epochs = TrainingCheckpoint.Read(path).Epochs;
        var loaded = Checkpoint.Load(path, model, optimizer, strict: true);
        TrainingCheckpoint.RestoreGenerators(model, loaded.Metadata, path);
        return epochs;
    }
}

/// <summary>Accuracy and loss of a model on a data set, in evaluation mode without gradients.</summary>
internal static class Evaluation
{
    /// <summary>Batches of 200 keep a CNN's im2col buffers in cache; larger batches were slower here.</summary>
    public static (double Accuracy, double Loss) Accuracy(Module model, Dataset data, int batchSize = 200)
    {
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var _ = new NoGrad();
            int correct = 0;
            double lossSum = 0;
            foreach (var batch in new DataLoader(data, batchSize))
            {
                var logits = model.Forward(batch.Images);
                correct += CountCorrect(logits, batch.Labels);
                lossSum += Models.Loss(logits, batch.Labels).Item() * batch.Count;
            }
            return ((double)correct / data.Count, lossSum / data.Count);
        }
        finally
        {
            model.Train(wasTraining);
        }
    }

    public static int CountCorrect(Tensor logits, int[] labels)
    {
        var predicted = logits.Detach().ArgMax(1);
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            correct += predicted[i] == labels[i] ? 1 : 0;
        }
        return correct;
    }
}
