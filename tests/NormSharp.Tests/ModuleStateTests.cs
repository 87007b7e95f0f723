using NormSharp.Nn;
using NormSharp.Tests.Serialization;

namespace NormSharp.Tests;

public class ModuleStateTests
{
    private static Sequential MakeModel(int seed) => new(
        new Linear(3, 4, generator: new Generator(seed)),
        new ToyNorm(4),
        new ReLU(),
        new Linear(4, 2, bias: false, generator: new Generator(seed + 1)));

    [Fact]
    public void StateDict_has_pytorch_keys_in_pytorch_order()
    {
        var keys = MakeModel(1).StateDict().Keys;
        Assert.Equal(
            new[] { "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "3.weight" },
            keys);
        var nested = new Net(new Generator(1)).StateDict().Keys;
        Assert.Equal(
            new[]
            {
                "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
                "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked", "head.weight",
            },
            nested);
    }

    [Fact]
    public void StateDict_returns_copies_with_counters_as_exact_int64()
    {
        var model = MakeModel(2);
        var norm = (ToyNorm)model[1];
        norm.NumBatchesTracked = (1L << 53) + 1; // not representable as a double, let alone a float
        var state = model.StateDict();

        var weight = state["0.weight"];
        Assert.IsNotType<Parameter>(weight);
        Assert.False(weight.RequiresGrad);
        Assert.Equal(((Linear)model[0]).Weight.ToArray(), weight.ToArray());
        weight.AsSpan()[0] += 1;
        Assert.NotEqual(weight.ToArray()[0], ((Linear)model[0]).Weight.ToArray()[0]);

        var counter = Assert.IsType<Int64Scalar>(state["1.num_batches_tracked"]);
        Assert.Equal((1L << 53) + 1, counter.Value);
        Assert.Empty(counter.Shape);
        norm.NumBatchesTracked = 5;
        Assert.Equal((1L << 53) + 1, counter.Value);
    }

    [Fact]
    public void LoadStateDict_copies_in_place_bit_exactly()
    {
        var source = MakeModel(3);
        var target = MakeModel(4);
        var weightBefore = ((Linear)target[0]).Weight;
        var state = StateAssert.Randomized(source.StateDict(), seed: 5);
        state["0.bias"].AsSpan()[1] = BitConverter.Int32BitsToSingle(0x7FC12345); // a NaN payload survives
        var result = target.LoadStateDict(state);
        Assert.True(result.IsClean);
        Assert.Same(weightBefore, ((Linear)target[0]).Weight);
        Assert.True(weightBefore.RequiresGrad);
        StateAssert.Equal(state, target.StateDict());
    }

    [Fact]
    public void Strict_load_lists_every_problem_at_once_and_changes_nothing()
    {
        var model = MakeModel(6);
        var before = model.StateDict();
        var state = StateAssert.Randomized(before, seed: 7);
        state.Remove("0.bias");
        state.Remove("1.running_var");
        state["0.weight"] = Tensor.Zeros(3, 4);
        state["extra.weight"] = Tensor.Zeros(1);
        state["1.num_batches_tracked"] = Tensor.Zeros(2);

        var ex = Assert.Throws<ArgumentException>(() => model.LoadStateDict(state));
        Assert.Contains("Sequential", ex.Message, StringComparison.Ordinal);
        Assert.Contains("2 missing key(s): \"0.bias\", \"1.running_var\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("1 unexpected key(s): \"extra.weight\"", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"0.weight\": expected [4, 3], got [3, 4]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("\"1.num_batches_tracked\": expected [], got [2]", ex.Message, StringComparison.Ordinal);
        StateAssert.Equal(before, model.StateDict());
    }

    [Fact]
    public void Non_strict_load_copies_what_matches_and_reports_the_rest()
    {
        var model = MakeModel(8);
        var before = model.StateDict();
        var state = StateAssert.Randomized(before, seed: 9);
        state.Remove("3.weight");
        state["0.bias"] = Tensor.Zeros(5);
        state["unknown"] = Tensor.Zeros(1);

        var result = model.LoadStateDict(state, strict: false);
        Assert.Equal(new[] { "3.weight" }, result.MissingKeys);
        Assert.Equal(new[] { "unknown" }, result.UnexpectedKeys);
        var mismatch = Assert.Single(result.ShapeMismatches);
        Assert.Equal("0.bias", mismatch.Key);
        Assert.Equal(new[] { 4 }, mismatch.ExpectedShape);
        Assert.Equal(new[] { 5 }, mismatch.ActualShape);

        var after = model.StateDict();
        Assert.Equal(before["3.weight"].ToArray(), after["3.weight"].ToArray());
        Assert.Equal(before["0.bias"].ToArray(), after["0.bias"].ToArray());
        Assert.Equal(state["0.weight"].ToArray(), after["0.weight"].ToArray());
        Assert.Equal(((Int64Scalar)state["1.num_batches_tracked"]).Value, ((ToyNorm)model[1]).NumBatchesTracked);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Counter_accepts_shape_empty_or_one_exactly_to_int64_range(bool vector)
    {
        var model = MakeModel(10);
        var norm = (ToyNorm)model[1];
        foreach (long value in new[] { 0L, 1L << 24 | 1, (1L << 53) + 1, long.MaxValue })
        {
            var state = model.StateDict();
            state["1.num_batches_tracked"] = new Int64Scalar(value, vector);
            model.LoadStateDict(state);
            Assert.Equal(value, norm.NumBatchesTracked);
        }
    }

    [Fact]
    public void Counter_accepts_integral_float_and_rejects_fractions()
    {
        var model = MakeModel(11);
        var state = model.StateDict();
        state["1.num_batches_tracked"] = Tensor.FromArray([12345f], 1);
        model.LoadStateDict(state);
        Assert.Equal(12345, ((ToyNorm)model[1]).NumBatchesTracked);

        foreach (float bad in new[] { 2.5f, float.NaN, float.PositiveInfinity, 1e30f })
        {
            state["1.num_batches_tracked"] = Tensor.Scalar(bad);
            var ex = Assert.Throws<ArgumentException>(() => model.LoadStateDict(state, strict: false));
            Assert.Contains("num_batches_tracked", ex.Message, StringComparison.Ordinal);
        }
        Assert.Equal(12345, ((ToyNorm)model[1]).NumBatchesTracked);
    }

    [Fact]
    public void Shared_module_appears_under_every_path_like_pytorch()
    {
        var shared = new Linear(2, 2, generator: new Generator(1));
        var model = new Sequential(shared, new ReLU(), shared);
        Assert.Equal(new[] { "0.weight", "0.bias", "2.weight", "2.bias" }, model.StateDict().Keys);
        Assert.Equal(2, model.Parameters().Count());
    }

    [Fact]
    public void Counter_names_cannot_collide_with_other_state()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CollidingModule());
        Assert.Contains("\"weight\"", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NamedCounters_reports_dotted_names_and_values()
    {
        var model = new Net(new Generator(2));
        ((BatchNorm1d)model.Features[1]).NumBatchesTracked = 42;
        var counter = Assert.Single(model.NamedCounters());
        Assert.Equal("features.1.num_batches_tracked", counter.Key);
        Assert.Equal(42, counter.Value);
    }

    public static TheoryData<string, Module, string[]> NormalizationLayers() => new()
    {
        { "BatchNorm2d", new BatchNorm2d(3), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"] },
        { "BatchNorm1d affine: false", new BatchNorm1d(3, affine: false), ["running_mean", "running_var", "num_batches_tracked"] },
        { "BatchNorm3d untracked", new BatchNorm3d(3, trackRunningStats: false), ["weight", "bias"] },
        { "InstanceNorm2d default", new InstanceNorm2d(3), [] },
        { "InstanceNorm1d tracked", new InstanceNorm1d(3, affine: true, trackRunningStats: true), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"] },
        { "LayerNorm", new LayerNorm([4]), ["weight", "bias"] },
        { "GroupNorm", new GroupNorm(2, 4), ["weight", "bias"] },
        { "RMSNorm", new RMSNorm([4]), ["weight"] },
    };

    [Theory]
    [MemberData(nameof(NormalizationLayers))]
    public void Normalization_layers_have_pytorchs_state_keys(string name, Module layer, string[] keys)
    {
        Assert.True(keys.SequenceEqual(layer.StateDict().Keys), $"{name}: {string.Join(", ", layer.StateDict().Keys)}");
    }

    [Fact]
    public void Batch_norm_counter_round_trips_and_drives_the_cumulative_average()
    {
        var generator = new Generator(13);
        var trained = new BatchNorm2d(3, momentum: null);
        for (int step = 0; step < 5; step++)
        {
            trained.Forward(Tensor.Randn(generator, 4, 3, 2, 2));
        }
        var copy = new BatchNorm2d(3, momentum: null);
        copy.LoadStateDict(trained.StateDict());
        Assert.Equal(5, copy.NumBatchesTracked);
        Assert.Equal(5, Assert.IsType<Int64Scalar>(trained.StateDict()["num_batches_tracked"]).Value);

        // The sixth batch is averaged in with weight 1/6 in both, so the running statistics stay equal.
        var batch = Tensor.Randn(generator, 4, 3, 2, 2);
        trained.Forward(batch);
        copy.Forward(batch);
        StateAssert.Equal(trained.StateDict(), copy.StateDict());
    }

    private sealed class CollidingModule : Module
    {
        public CollidingModule()
        {
            RegisterParameter("weight", new Parameter(Tensor.Zeros(1)));
            RegisterCounter("weight", () => 0, _ => { });
        }

        public override Tensor Forward(Tensor input) => input;
    }
}
