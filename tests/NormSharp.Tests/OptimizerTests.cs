using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;

namespace NormSharp.Tests;

public class OptimizerTests
{
    private static Sequential Model() =>
        new(new Linear(3, 8, generator: new Generator(1)), new ReLU(), new Linear(8, 2, generator: new Generator(2)));

    private static void TrainStep(Sequential model, Optimizer optimizer, int step)
    {
        var generator = new Generator(100 + step);
        var x = Tensor.Randn(generator, 16, 3);
        var target = Tensor.Randn(generator, 16, 2);
        optimizer.ZeroGrad();
        F.MseLoss(model.Forward(x), target).Backward();
        optimizer.Step();
    }

    public static TheoryData<string> Kinds => new() { "sgd", "nesterov", "adam", "adamw" };

    private static Optimizer Create(string kind, IEnumerable<Tensor> parameters) => kind switch
    {
        "sgd" => new SGD(parameters, lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3),
        "nesterov" => new SGD(parameters, lr: 0.05, momentum: 0.9, nesterov: true),
        "adam" => new Adam(parameters, lr: 0.01, weightDecay: 1e-3),
        _ => new AdamW(parameters, lr: 0.01),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Resuming_from_state_dict_is_bit_identical_to_an_uninterrupted_run(string kind)
    {
        var uninterrupted = Model();
        var optimizer = Create(kind, uninterrupted.Parameters());
        for (int step = 0; step < 6; step++)
        {
            TrainStep(uninterrupted, optimizer, step);
        }

        var resumed = Model();
        var first = Create(kind, resumed.Parameters());
        for (int step = 0; step < 3; step++)
        {
            TrainStep(resumed, first, step);
        }
        var saved = first.StateDict();
        var second = Create(kind, resumed.Parameters());
        second.LoadStateDict(saved);
        for (int step = 3; step < 6; step++)
        {
            TrainStep(resumed, second, step);
        }

        var expected = uninterrupted.NamedParameters().ToList();
        var actual = resumed.NamedParameters().ToList();
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Key, actual[i].Key);
            Assert.Equal(expected[i].Value.ToArray(), actual[i].Value.ToArray());
        }
        var expectedState = optimizer.StateDict();
        var actualState = second.StateDict();
        Assert.Equal(expectedState.Keys.Order(StringComparer.Ordinal), actualState.Keys.Order(StringComparer.Ordinal));
        foreach (var key in expectedState.Keys)
        {
            Assert.Equal(expectedState[key].ToArray(), actualState[key].ToArray());
        }
    }

    [Fact]
    public void Without_loaded_state_the_resumed_run_differs()
    {
        // Guards the test above: a fresh optimizer (no state) must not happen to give the same result.
        var uninterrupted = Model();
        var optimizer = new Adam(uninterrupted.Parameters(), lr: 0.01);
        var resumed = Model();
        var first = new Adam(resumed.Parameters(), lr: 0.01);
        for (int step = 0; step < 6; step++)
        {
            TrainStep(uninterrupted, optimizer, step);
            if (step < 3)
            {
                TrainStep(resumed, first, step);
            }
        }
        var fresh = new Adam(resumed.Parameters(), lr: 0.01);
        for (int step = 3; step < 6; step++)
        {
            TrainStep(resumed, fresh, step);
        }
        Assert.NotEqual(uninterrupted.Parameters().First().ToArray(), resumed.Parameters().First().ToArray());
    }

    [Fact]
    public void Load_rejects_wrong_shape_unknown_key_and_incomplete_state_without_changing_anything()
    {
        var problem = new TinyProblem();
        var optimizer = new Adam(problem.Parameters);
        problem.ComputeGradients();
        optimizer.Step();
        var good = optimizer.StateDict();

        var wrongShape = new Dictionary<string, Tensor>(good) { ["state.1.exp_avg"] = Tensor.Zeros(3) };
        var ex = Assert.Throws<ArgumentException>(() => optimizer.LoadStateDict(wrongShape));
        Assert.Contains("state.1.exp_avg", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[2]", ex.Message, StringComparison.Ordinal);

        var unknown = new Dictionary<string, Tensor>(good) { ["state.2.exp_avg"] = Tensor.Zeros(2) };
        ex = Assert.Throws<ArgumentException>(() => optimizer.LoadStateDict(unknown));
        Assert.Contains("state.2.exp_avg", ex.Message, StringComparison.Ordinal);

        var incomplete = new Dictionary<string, Tensor>(good);
        incomplete.Remove("state.0.step");
        ex = Assert.Throws<ArgumentException>(() => optimizer.LoadStateDict(incomplete));
        Assert.Contains("state.0.step", ex.Message, StringComparison.Ordinal);

        var fractional = new Dictionary<string, Tensor>(good) { ["state.0.step"] = Tensor.Scalar(1.5f) };
        Assert.Throws<ArgumentException>(() => optimizer.LoadStateDict(fractional));

        var after = optimizer.StateDict();
        Assert.Equal(good.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        foreach (var key in good.Keys)
        {
            Assert.Equal(good[key].ToArray(), after[key].ToArray());
        }
    }

    [Fact]
    public void State_dict_and_load_copy_the_tensors()
    {
        var problem = new TinyProblem();
        var optimizer = new Adam(problem.Parameters);
        problem.ComputeGradients();
        optimizer.Step();
        var saved = optimizer.StateDict();
        var snapshot = saved["state.0.exp_avg"].ToArray();
        optimizer.Step();
        Assert.Equal(snapshot, saved["state.0.exp_avg"].ToArray());

        optimizer.LoadStateDict(saved);
        saved["state.0.exp_avg"].AsSpan().Fill(42f);
        Assert.Equal(snapshot, optimizer.StateDict()["state.0.exp_avg"].ToArray());
    }

    [Fact]
    public void Empty_state_dict_clears_state()
    {
        var problem = new TinyProblem();
        var optimizer = new SGD(problem.Parameters, lr: 0.1, momentum: 0.9);
        problem.ComputeGradients();
        optimizer.Step();
        Assert.Equal(2, optimizer.StateDict().Count);
        optimizer.LoadStateDict(new Dictionary<string, Tensor>());
        Assert.Empty(optimizer.StateDict());
    }

    [Fact]
    public void Parameter_list_is_validated()
    {
        Assert.Throws<ArgumentException>(() => new SGD([], lr: 0.1));
        var p = GradCheck.RandomLeaf(1, 3);
        var ex = Assert.Throws<ArgumentException>(() => new SGD([p, p], lr: 0.1));
        Assert.Contains("Parameter 1", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => new Adam([p * 2f]));
        Assert.Contains("not a leaf", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroGrad_clears_gradients_and_learning_rate_is_validated()
    {
        var problem = new TinyProblem();
        var optimizer = new SGD(problem.Parameters, lr: 0.1);
        problem.ComputeGradients();
        optimizer.ZeroGrad();
        Assert.All(problem.Parameters, p => Assert.Null(p.Grad));
        optimizer.LearningRate = 0.5;
        Assert.Equal(0.5, optimizer.LearningRate);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.LearningRate = -2);
        Assert.Contains("-2", ex.Message, StringComparison.Ordinal);
    }
}
