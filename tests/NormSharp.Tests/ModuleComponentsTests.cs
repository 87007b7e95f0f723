using NormSharp.Nn;

namespace NormSharp.Tests;

/// <summary>Safe module building (unregistered fields refused or registered), containers, and the PyTorch-style repr.</summary>
public class ModuleComponentsTests
{
    private sealed class Forgetful : Module
    {
        private readonly Linear hidden = new(3, 4, generator: new Generator(1));

        public Forgetful() => Head = RegisterModule("head", new Linear(4, 2, generator: new Generator(2)));

        public Linear Head { get; }

        public override Tensor Forward(Tensor input) => Head.Forward(hidden.Forward(input));
    }

    private sealed class SelfRegistering : Module
    {
        private readonly Linear _hidden = new(3, 4, generator: new Generator(1));
        private readonly Parameter scale = new(Tensor.Ones(2));

        public SelfRegistering()
        {
            Head = new Linear(4, 2, generator: new Generator(2));
            RegisterComponents();
        }

        public Linear Head { get; }

        [NotRegistered]
        public Linear? Teacher;

        public override Tensor Forward(Tensor input) => Head.Forward(_hidden.Forward(input)) * scale;
    }

    private sealed class ListHolder : Module
    {
        private readonly List<Linear> layers = [new Linear(2, 2, generator: new Generator(3))];

        public override Tensor Forward(Tensor input) => layers[0].Forward(input);
    }

    [Fact]
    public void An_unregistered_child_module_is_refused_with_the_field_name()
    {
        var model = new Forgetful();
        var error = Assert.Throws<InvalidOperationException>(() => model.Parameters().ToList());
        Assert.Contains("'hidden'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Forgetful", error.Message, StringComparison.Ordinal);
        Assert.Contains("RegisterModule(\"hidden\"", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => model.StateDict());
        // Also when the module is a child of another: the check covers the whole tree.
        Assert.Throws<InvalidOperationException>(() => new Sequential(model).StateDict());
    }

    [Fact]
    public void RegisterComponents_registers_fields_in_declaration_order_under_their_names()
    {
        var model = new SelfRegistering { Teacher = new Linear(1, 1, generator: new Generator(4)) };
        // As in PyTorch, a module's own parameters come before its children's.
        Assert.Equal(["scale", "hidden.weight", "hidden.bias", "Head.weight", "Head.bias"], model.NamedParameters().Select(p => p.Key));
        Assert.Equal(["hidden", "Head"], model.NamedChildren().Select(c => c.Key));
        Assert.Equal(5, model.StateDict().Count);
    }

    [Fact]
    public void A_list_of_modules_is_refused_and_ModuleList_is_suggested()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new ListHolder().Parameters().ToList());
        Assert.Contains("'layers'", error.Message, StringComparison.Ordinal);
        Assert.Contains("ModuleList", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ModuleList_and_ModuleDict_register_their_modules_with_pytorch_keys()
    {
        var list = new ModuleList(new Linear(2, 3, generator: new Generator(5)), new ReLU(), new Linear(3, 1, bias: false, generator: new Generator(6)));
        Assert.Equal(["0.weight", "0.bias", "2.weight"], list.StateDict().Keys);
        Assert.IsType<ReLU>(list[-2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => list[3]);
        Assert.Throws<NotSupportedException>(() => list.Forward(Tensor.Zeros(1, 2)));
        var dict = new ModuleDict { ["encoder"] = new Linear(2, 2, generator: new Generator(7)), ["norm"] = new BatchNorm1d(2) };
        Assert.Equal(["encoder", "norm"], dict.Keys);
        Assert.Contains("norm.running_mean", dict.StateDict().Keys);
        var missing = Assert.Throws<KeyNotFoundException>(() => dict["decoder"]);
        Assert.Contains("[encoder, norm]", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_prints_the_module_tree_as_pytorch()
    {
        var model = new Sequential(
            new Linear(4, 8, generator: new Generator(8)),
            new Sequential(new BatchNorm1d(8), new ReLU()),
            new ModuleDict { ["out"] = new Linear(8, 2, generator: new Generator(9)) },
            new Identity());
        string expected = string.Join('\n',
            "Sequential(",
            "  (0): Linear(inFeatures: 4, outFeatures: 8, bias: True)",
            "  (1): Sequential(",
            "    (0): BatchNorm1d(8, eps: 1E-05, momentum: 0.1, affine: True, trackRunningStats: True)",
            "    (1): ReLU()",
            "  )",
            "  (2): ModuleDict(",
            "    (out): Linear(inFeatures: 8, outFeatures: 2, bias: True)",
            "  )",
            "  (3): Identity()",
            ")");
        Assert.Equal(expected, model.ToString());
    }

    [Fact]
    public void A_BatchNorm_state_dict_without_num_batches_tracked_loads_with_the_counter_at_zero()
    {
        var source = new BatchNorm2d(3);
        source.Forward(Tensor.Randn(new Generator(10), 4, 3, 2, 2));
        var state = source.StateDict();
        state.Remove("num_batches_tracked");
        var target = new BatchNorm2d(3);
        target.Forward(Tensor.Randn(new Generator(11), 4, 3, 2, 2));
        target.Forward(Tensor.Randn(new Generator(12), 4, 3, 2, 2));
        Assert.Equal(2, target.NumBatchesTracked);

        var result = target.LoadStateDict(state);   // strict
        Assert.True(result.IsClean);
        Assert.Equal(0, target.NumBatchesTracked);
        Assert.Equal(source.RunningMean!.ToArray(), target.RunningMean!.ToArray());
    }

    [Fact]
    public void A_shared_parameter_stays_one_parameter_through_StateDict_and_LoadStateDict()
    {
        var shared = new Linear(3, 3, generator: new Generator(13));
        var model = new Sequential(shared, new ReLU(), shared);
        Assert.Equal(2, model.Parameters().Count());
        var state = model.StateDict();
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], state.Keys);
        var loaded = new Sequential(new Linear(3, 3, generator: new Generator(14)), new ReLU());
        loaded.Add(loaded[0]);
        loaded.LoadStateDict(state);
        Assert.Same(loaded[0], loaded[2]);
        Assert.Equal(2, loaded.Parameters().Count());
        Assert.Equal(shared.Weight.ToArray(), ((Linear)loaded[2]).Weight.ToArray());
    }
}
