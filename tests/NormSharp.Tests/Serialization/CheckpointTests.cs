using System.Reflection;
using Module = NormSharp.Nn.Module;
using NormSharp.Nn;
using NormSharp.Optim;
using NormSharp.Serialization;

namespace NormSharp.Tests.Serialization;

public class CheckpointTests
{
    [Fact]
    public void Save_then_load_restores_module_state_bit_exactly_with_metadata()
    {
        using var folder = new TempFolder();
        string path = folder.File("model.safetensors");
        var source = new Net(new Generator(1));
        source.LoadStateDict(StateAssert.Randomized(source.StateDict(), seed: 2));
        Checkpoint.Save(path, source, metadata: new Dictionary<string, string> { ["epoch"] = "3", ["note"] = "ünïcode" });

        var target = new Net(new Generator(99));
        var result = Checkpoint.Load(path, target);
        Assert.True(result.Module.IsClean);
        Assert.Equal("3", result.Metadata["epoch"]);
        Assert.Equal("ünïcode", result.Metadata["note"]);
        Assert.Equal(Checkpoint.FormatVersion, result.Metadata[Checkpoint.FormatKey]);
        Assert.False(result.Metadata.ContainsKey(Checkpoint.OptimizerKey));
        StateAssert.Equal(source.StateDict(), target.StateDict());

        // An ordinary safetensors reader sees PyTorch's keys and dtypes.
        var file = SafeTensors.ReadFile(path);
        Assert.Equal(SafeTensorsDType.F32, file["features.1.running_mean"].DType);
        Assert.Equal(SafeTensorsDType.I64, file["features.1.num_batches_tracked"].DType);
        Assert.Empty(file["features.1.num_batches_tracked"].Shape);
    }

    public static TheoryData<string> ModuleTypes()
    {
        var data = new TheoryData<string>();
        foreach (var type in AllModuleTypes())
        {
            data.Add(type.FullName!);
        }
        return data;
    }

    private static IEnumerable<Type> AllModuleTypes() =>
        typeof(Module).Assembly.GetTypes()
            .Where(t => t.IsPublic && !t.IsAbstract && typeof(Module).IsAssignableFrom(t))
            .Append(typeof(ToyNorm))
            .OrderBy(t => t.FullName, StringComparer.Ordinal);

    [Theory]
    [MemberData(nameof(ModuleTypes))]
    public void Every_module_type_round_trips_through_a_checkpoint(string typeName)
    {
        var type = AllModuleTypes().Single(t => t.FullName == typeName);
        var source = Construct(type, seed: 1);
        var target = Construct(type, seed: 2);
        var randomized = StateAssert.Randomized(source.StateDict(), seed: 3);
        source.LoadStateDict(randomized);
        StateAssert.Equal(randomized, source.StateDict());

        using var folder = new TempFolder();
        string path = folder.File("module.safetensors");
        Checkpoint.Save(path, source);
        Assert.True(Checkpoint.Load(path, target).Module.IsClean);
        StateAssert.Equal(randomized, target.StateDict());
    }

    [Fact]
    public void Module_type_discovery_finds_the_library_modules()
    {
        var names = AllModuleTypes().Select(t => t.Name).ToList();
        Assert.Contains("Linear", names);
        Assert.Contains("Sequential", names);
        Assert.Contains("ReLU", names);
    }

    /// <summary>
    /// Builds any module from its public constructor with the fewest required arguments: size arguments
    /// get 4 (so grouped layers divide evenly), kernel sizes 3×2, switches true, other optional ones their defaults, child-module lists a Linear.
    /// A module whose constructor needs anything else fails here with a message asking for a case.
    /// </summary>
    private static Module Construct(Type type, int seed)
    {
        var constructor = type.GetConstructors()
            .OrderBy(c => c.GetParameters().Count(p => !p.IsOptional))
            .First();
        var arguments = constructor.GetParameters().Select(p => Argument(type, p, seed)).ToArray();
        return (Module)constructor.Invoke(arguments);
    }

    private static object? Argument(Type module, ParameterInfo parameter, int seed)
    {
        var type = parameter.ParameterType;
        if (type == typeof(Generator))
        {
            return new Generator(seed);
        }
        if (type == typeof(bool))
        {
            // Switches on: affine, trackRunningStats, bias ... so that every optional piece of state exists.
            return true;
        }
        if (parameter.IsOptional)
        {
            return parameter.DefaultValue is DBNull ? null : parameter.DefaultValue;
        }
        if (type == typeof(int) || type == typeof(long))
        {
            return Convert.ChangeType(4, type, System.Globalization.CultureInfo.InvariantCulture);
        }
        if (type == typeof(Size2d))
        {
            return new Size2d(3, 2); // not square, so that a transposed kernel would show
        }
        if (type == typeof(int[]))
        {
            return new[] { 4 };
        }
        if (type == typeof(double) || type == typeof(float))
        {
            return Convert.ChangeType(0.5, type, System.Globalization.CultureInfo.InvariantCulture);
        }
        if (type == typeof(Module[]))
        {
            return new Module[] { new Linear(4, 4, generator: new Generator(seed)), new ToyNorm(4) };
        }
        if (type == typeof(Module))
        {
            return new Sequential(new Linear(4, 4, generator: new Generator(seed)), new ToyNorm(4));
        }
        if (type == typeof(NormSharp.Distributed.ProcessGroup))
        {
            // A one-rank thread group: its collectives never wait, so it stays usable after RunThreads returns.
            NormSharp.Distributed.ProcessGroup? group = null;
            NormSharp.Distributed.ProcessGroup.RunThreads(1, g => group = g);
            return group;
        }
        throw new InvalidOperationException(
            $"Cannot construct {module.Name}: add a case for parameter {parameter.Name} of type {type.Name} in {nameof(CheckpointTests)}.{nameof(Argument)}.");
    }

    [Fact]
    public void Strict_load_of_a_mismatched_file_names_every_problem_and_changes_nothing()
    {
        using var folder = new TempFolder();
        string path = folder.File("other.safetensors");
        Checkpoint.Save(path, new Sequential(new Linear(3, 5), new ToyNorm(5)));
        var model = new Sequential(new Linear(3, 4), new ToyNorm(4), new Linear(4, 1));
        var before = model.StateDict();

        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, model));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"2.weight\", \"2.bias\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"0.weight\": expected [4, 3], got [5, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"1.running_var\": expected [4], got [5]", ex.Message, StringComparison.Ordinal);
        StateAssert.Equal(before, model.StateDict());

        var result = Checkpoint.Load(path, model, strict: false);
        Assert.Equal(new[] { "2.weight", "2.bias" }, result.Module.MissingKeys);
        Assert.Equal(6, result.Module.ShapeMismatches.Count);
        Assert.Equal(((Int64Scalar)Checkpoint.Read(path).ModuleState["1.num_batches_tracked"]).Value, ((ToyNorm)model[1]).NumBatchesTracked);
    }

    [Fact]
    public void Save_rejects_reserved_metadata_and_module_keys_without_writing()
    {
        using var folder = new TempFolder();
        string path = folder.File("x.safetensors");
        var model = new Linear(2, 2);
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, model, metadata: new Dictionary<string, string> { ["normsharp.format"] = "x" }));
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, new OptimizerNamedChild()));
        Assert.Empty(Directory.GetFileSystemEntries(folder.Path));
    }

    [Fact]
    public void Failure_between_write_and_rename_leaves_the_previous_checkpoint()
    {
        using var folder = new TempFolder();
        string path = folder.File("model.safetensors");
        var model = new Net(new Generator(5));
        Checkpoint.Save(path, model);
        var previousBytes = File.ReadAllBytes(path);

        model.LoadStateDict(StateAssert.Randomized(model.StateDict(), seed: 6));
        string? temporary = null;
        var ex = Assert.Throws<IOException>(() => Checkpoint.Save(path, model, null, null, beforeRename: t =>
        {
            // The new checkpoint is complete and flushed before the rename would happen.
            temporary = t;
            Assert.Equal(Path.GetDirectoryName(Path.GetFullPath(path)), Path.GetDirectoryName(t));
            StateAssert.Equal(model.StateDict(), Checkpoint.Read(t).ModuleState);
            throw new IOException("simulated crash before rename");
        }));
        Assert.Equal("simulated crash before rename", ex.Message);
        Assert.NotNull(temporary);
        Assert.Equal(previousBytes, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(folder.Path));

        Checkpoint.Save(path, model);
        StateAssert.Equal(model.StateDict(), Checkpoint.Read(path).ModuleState);
        Assert.Equal(new[] { path }, Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void Failure_while_writing_leaves_the_previous_checkpoint()
    {
        using var folder = new TempFolder();
        string path = folder.File("model.safetensors");
        File.WriteAllText(path, "previous");
        Assert.Throws<InvalidOperationException>(() =>
            SafeTensors.WriteAtomically(path, stream =>
            {
                stream.Write(new byte[1000]);
                throw new InvalidOperationException("disk full");
            }, beforeRename: null));
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void Optimizer_state_and_learning_rate_round_trip_under_the_prefix()
    {
        using var folder = new TempFolder();
        string path = folder.File("train.safetensors");
        var model = new Net(new Generator(7));
        var optimizer = new Adam(model.Parameters(), lr: 0.01);
        TrainSteps(model, optimizer, 0, 3);
        optimizer.LearningRate = 0.1 / 3; // not exact in decimal: the metadata must round-trip it
        Checkpoint.Save(path, model, optimizer);

        var contents = Checkpoint.Read(path);
        Assert.Equal("Adam", contents.Metadata[Checkpoint.OptimizerKey]);
        Assert.Equal(0.1 / 3, double.Parse(contents.Metadata[Checkpoint.LearningRateKey], System.Globalization.CultureInfo.InvariantCulture));
        StateAssert.Equal(optimizer.StateDict(), contents.OptimizerState!);
        Assert.Equal(3f, contents.OptimizerState!["state.0.step"].Item());
        Assert.Equal(3 * model.Parameters().Count(), contents.OptimizerState.Count);
        Assert.DoesNotContain(contents.ModuleState.Keys, k => k.StartsWith("optimizer", StringComparison.Ordinal));
        Assert.Equal(new[] { 4, 3 }, SafeTensors.ReadFile(path)["optimizer.state.0.exp_avg"].Shape);

        var restored = new Adam(new Net(new Generator(8)).Parameters(), lr: 5);
        Assert.True(Checkpoint.Load(path, new Net(new Generator(8)), restored).OptimizerLoaded);
        Assert.Equal(0.1 / 3, restored.LearningRate);
        StateAssert.Equal(optimizer.StateDict(), restored.StateDict());

        // A module-only load ignores the optimizer entries, strict or not.
        Assert.True(Checkpoint.Load(path, new Net(new Generator(9))).Module.IsClean);
    }

    [Fact]
    public void Loading_an_optimizer_from_a_file_without_one_fails_strictly()
    {
        using var folder = new TempFolder();
        string path = folder.File("model-only.safetensors");
        var model = new Net(new Generator(9));
        Checkpoint.Save(path, model);
        var optimizer = new SGD(model.Parameters(), lr: 0.1, momentum: 0.9);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, model, optimizer));
        Assert.Contains("no optimizer state", ex.Message, StringComparison.Ordinal);
        Assert.False(Checkpoint.Load(path, model, optimizer, strict: false).OptimizerLoaded);
        Assert.Equal(0.1, optimizer.LearningRate);
    }

    [Fact]
    public void Strict_load_refuses_another_optimizer_types_state()
    {
        using var folder = new TempFolder();
        string path = folder.File("adam.safetensors");
        var model = new Net(new Generator(10));
        var adam = new Adam(model.Parameters(), lr: 0.01);
        TrainSteps(model, adam, 0, 2);
        Checkpoint.Save(path, model, adam);

        var target = new Net(new Generator(11));
        var before = target.StateDict();
        var adamW = new AdamW(target.Parameters(), lr: 0.5);
        var ex = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target, adamW));
        Assert.Contains("holds Adam state, the optimizer is AdamW", ex.Message, StringComparison.Ordinal);
        StateAssert.Equal(before, target.StateDict());
        Assert.Equal(0.5, adamW.LearningRate);

        // Non-strict: the same keys fit, so the state loads.
        Assert.True(Checkpoint.Load(path, target, adamW, strict: false).OptimizerLoaded);
        StateAssert.Equal(adam.StateDict(), adamW.StateDict());
    }

    [Fact]
    public void Optimizer_rejecting_its_state_leaves_module_and_learning_rate_unchanged()
    {
        using var folder = new TempFolder();
        string path = folder.File("adam.safetensors");
        var saved = new Net(new Generator(10));
        var adam = new Adam(saved.Parameters(), lr: 0.01);
        TrainSteps(saved, adam, 0, 2);
        Checkpoint.Save(path, saved, adam);

        // Adam's exp_avg offered to SGD with momentum: SGD's LoadStateDict throws on the unknown key.
        var model = new Net(new Generator(11));
        var before = model.StateDict();
        var sgd = new SGD(model.Parameters(), lr: 0.1, momentum: 0.9);
        var ex = Assert.Throws<ArgumentException>(() => Checkpoint.Load(path, model, sgd, strict: false));
        Assert.Contains("exp_avg", ex.Message, StringComparison.Ordinal);
        StateAssert.Equal(before, model.StateDict());
        Assert.Equal(0.1, sgd.LearningRate);
        Assert.Empty(sgd.StateDict());
    }

    public static TheoryData<string, bool> ResumeCases() => new()
    {
        { "sgd", false }, { "sgd", true }, { "adam", false }, { "adam", true }, { "adamw", false },
    };

    private static Optimizer MakeOptimizer(string kind, Net model, double lr) => kind switch
    {
        "sgd" => new SGD(model.Parameters(), lr, momentum: 0.9, weightDecay: 1e-3, nesterov: true),
        "adam" => new Adam(model.Parameters(), lr),
        _ => new AdamW(model.Parameters(), lr),
    };

    /// <summary>
    /// Training 10 steps straight equals training 4, saving, and resuming in a fresh model and optimizer for 6:
    /// same losses, parameters, batch-norm statistics and optimizer state, bit for bit. Without a schedule the
    /// run halves the learning rate by hand after step 2 and the resumed optimizer is built with a wrong one,
    /// so the rate must come from the checkpoint; with a StepLR schedule the epoch comes from the metadata.
    /// </summary>
    [Theory]
    [MemberData(nameof(ResumeCases))]
    public void Resumed_training_equals_uninterrupted_training_bit_for_bit(string kind, bool schedule)
    {
        const int totalSteps = 10, stopAfter = 4;
        const double lr = 0.05;
        var straight = new Net(new Generator(12));
        var straightOptimizer = MakeOptimizer(kind, straight, lr);
        var straightSchedule = schedule ? new StepLR(straightOptimizer, stepSize: 3, gamma: 0.5) : null;
        var straightLosses = TrainSteps(straight, straightOptimizer, 0, totalSteps, straightSchedule);

        using var folder = new TempFolder();
        string path = folder.File("resume.safetensors");
        var first = new Net(new Generator(12));
        var firstOptimizer = MakeOptimizer(kind, first, lr);
        var firstSchedule = schedule ? new StepLR(firstOptimizer, stepSize: 3, gamma: 0.5) : null;
        var firstLosses = TrainSteps(first, firstOptimizer, 0, stopAfter, firstSchedule);
        Checkpoint.Save(path, first, firstOptimizer, new Dictionary<string, string> { ["epoch"] = stopAfter.ToString(System.Globalization.CultureInfo.InvariantCulture) });

        // A fresh process: different initial weights, a new optimizer, everything else from the file.
        var resumed = new Net(new Generator(777));
        var resumedOptimizer = MakeOptimizer(kind, resumed, schedule ? lr : 0.999);
        var resumedSchedule = schedule ? new StepLR(resumedOptimizer, stepSize: 3, gamma: 0.5) : null;
        var loaded = Checkpoint.Load(path, resumed, resumedOptimizer);
        Assert.True(loaded.OptimizerLoaded);
        if (resumedSchedule is not null)
        {
            resumedSchedule.LastEpoch = int.Parse(loaded.Metadata["epoch"], System.Globalization.CultureInfo.InvariantCulture);
        }
        var resumedLosses = TrainSteps(resumed, resumedOptimizer, stopAfter, totalSteps, resumedSchedule);

        Assert.Equal(straightLosses.Select(BitConverter.SingleToInt32Bits), firstLosses.Concat(resumedLosses).Select(BitConverter.SingleToInt32Bits));
        StateAssert.Equal(straight.StateDict(), resumed.StateDict());
        StateAssert.Equal(straightOptimizer.StateDict(), resumedOptimizer.StateDict());
        Assert.Equal(straightOptimizer.LearningRate, resumedOptimizer.LearningRate);
        Assert.Equal(totalSteps, ((BatchNorm1d)resumed.Features[1]).NumBatchesTracked);
    }

    [Fact]
    public void Resuming_without_the_optimizer_state_diverges()
    {
        // The control for the test above: the comparison is sharp enough to see a missing momentum buffer.
        var straight = new Net(new Generator(12));
        var straightLosses = TrainSteps(straight, MakeOptimizer("sgd", straight, 0.05), 0, 6);
        var first = new Net(new Generator(12));
        TrainSteps(first, MakeOptimizer("sgd", first, 0.05), 0, 3);
        var resumed = new Net(new Generator(1));
        resumed.LoadStateDict(first.StateDict());
        var optimizer = MakeOptimizer("sgd", resumed, 0.05);
        var resumedLosses = TrainSteps(resumed, optimizer, 3, 6);
        Assert.NotEqual(straightLosses[3..], resumedLosses);
    }

    /// <summary>
    /// Steps [from, to) of a deterministic regression run: batch k of a fixed data set, mean squared error; one
    /// schedule epoch per step; without a schedule the learning rate is halved by hand after step 2.
    /// </summary>
    private static List<float> TrainSteps(Net model, Optimizer optimizer, int from, int to, LRScheduler? schedule = null)
    {
        var generator = new Generator(2024);
        var inputs = Tensor.Randn(generator, 32, 3);
        var targets = Tensor.Randn(generator, 32, 2);
        var losses = new List<float>();
        model.Train();
        for (int step = from; step < to; step++)
        {
            int start = step % 4 * 8;
            var error = model.Forward(inputs.Slice(start, 8)) - targets.Slice(start, 8);
            var loss = (error * error).Mean();
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
            losses.Add(loss.Item());
            if (schedule is not null)
            {
                schedule.Step();
            }
            else if (step == 2)
            {
                optimizer.LearningRate *= 0.5;
            }
        }
        return losses;
    }

    private sealed class OptimizerNamedChild : Module
    {
        public OptimizerNamedChild() => RegisterModule("optimizer", new Linear(1, 1));

        public override Tensor Forward(Tensor input) => input;
    }
}
