using NormSharp.Cli.Experiments;
using NormSharp.Nn;

namespace NormSharp.Cli.Tests;

public class ModelsTests
{
    public static TheoryData<string, string> Combinations()
    {
        var data = new TheoryData<string, string>();
        foreach (var model in Enum.GetValues<ModelKind>())
        {
            if (Choices.IsRecurrent(model))
            {
                // The normalization is part of the recurrent models; --norm does not apply.
                data.Add(Choices.Name(model), "none");
                continue;
            }
            foreach (var norm in Enum.GetValues<NormKind>())
            {
                if (!(norm == NormKind.Instance && model != ModelKind.Cnn))
                {
                    data.Add(Choices.Name(model), Choices.Name(norm));
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public void Every_model_and_norm_trains_a_step_on_28_by_28_images(string modelName, string normName)
    {
        var (model, norm) = (Choices.ParseModel(modelName), Choices.ParseNorm(normName));
        var network = Models.Create(model, norm, [1, 28, 28], 10, new Generator(1));
        var images = Tensor.Randn(new Generator(2), 4, 1, 28, 28);
        int[] labels = [0, 3, 7, 9];
        var optimizer = Models.CreateOptimizer(OptimizerKind.Sgd, network.Parameters(), 0.02);
        var logits = network.Forward(images);
        Assert.Equal(new[] { 4, 10 }, logits.Shape);
        var loss = Models.Loss(logits, labels);
        loss.Backward();
        optimizer.Step();
        Assert.All(network.Parameters(), p => Assert.NotNull(p.Grad));
        // A few SGD steps on the same batch lower its loss (several, so that dropout's noise cannot hide the trend).
        float last = loss.Item();
        for (int i = 0; i < 5; i++)
        {
            optimizer.ZeroGrad();
            var next = Models.Loss(network.Forward(images), labels);
            next.Backward();
            optimizer.Step();
            last = next.Item();
        }
        Assert.True(last < loss.Item(), $"loss {loss.Item()} -> {last}");
        bool hasNorm = network.Modules().Any(m => m is BatchNormBase or LayerNorm or GroupNorm or InstanceNorm2d or TimeStepBatchNorm);
        Assert.Equal(norm != NormKind.None || model is ModelKind.BnLstm or ModelKind.LnLstm, hasNorm);
    }

    [Fact]
    public void Paper_mlp_puts_batch_norm_between_linear_and_sigmoid()
    {
        var network = Models.Create(ModelKind.PaperMlp, NormKind.Batch, [1, 28, 28], 10, new Generator(0));
        var kinds = Enumerable.Range(0, network.Count).Select(i => network[i].GetType().Name).ToArray();
        Assert.Equal(new[]
        {
            "Flatten", "Linear", "BatchNorm1d", "Sigmoid", "Linear", "BatchNorm1d", "Sigmoid", "Linear", "BatchNorm1d", "Sigmoid", "Linear",
        }, kinds);
        Assert.Equal(9, Models.LastActivationIndex(network));
        Assert.Equal(new[] { 100, 100, 100, 10 }, network.Modules().OfType<Linear>().Select(l => l.OutFeatures));
    }
}
