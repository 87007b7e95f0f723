using NormSharp.Cli.Experiments;
using NormSharp.Nn;

namespace NormSharp.Cli.Tests;

/// <summary>The CLI's batch renorm and ghost batch norm: names, models, and the renorm schedule the trainer applies.</summary>
public class SmallBatchTests
{
    [Fact]
    public void Renorm_and_ghost_parse_and_build_their_layers()
    {
        Assert.Equal([NormKind.Batch, NormKind.Renorm, NormKind.Ghost, NormKind.Group], Choices.ParseNormList("batch,renorm,ghost,group"));
        Assert.Equal("batch renorm", Choices.Label(NormKind.Renorm));
        var ex = Assert.Throws<ArgumentException>(() => Choices.ParseNorm("weight"));
        Assert.Contains("renorm, ghost", ex.Message, StringComparison.Ordinal);

        var renorm = Models.Create(ModelKind.Cnn, NormKind.Renorm, [1, 28, 28], 10, new Generator(0));
        Assert.Equal(2, renorm.Modules().OfType<BatchRenorm2d>().Count());
        Assert.Single(renorm.Modules().OfType<BatchRenorm1d>());
        var ghost = Models.Create(ModelKind.Mlp, NormKind.Ghost, [1, 28, 28], 10, new Generator(0));
        Assert.All(ghost.Modules().OfType<GhostBatchNorm1d>(), layer => Assert.Equal(Models.GhostVirtualBatchSize, layer.VirtualBatchSize));
        Assert.Equal(2, ghost.Modules().OfType<GhostBatchNorm1d>().Count());
    }

    [Fact]
    public void The_trainer_relaxes_the_renorm_bounds_over_the_run()
    {
        var schedule = Models.RenormSchedule(100);
        Assert.Equal((1.0, 0.0), (schedule.RMax(5), schedule.DMax(5)));
        Assert.Equal((3.0, 5.0), (schedule.RMax(40), schedule.DMax(40)));

        var data = TestConsole.Embedded;
        var spec = new RunSpec("renorm", ModelKind.Mlp, NormKind.Renorm, OptimizerKind.Adam, 1e-3, 8, Seed: 1);
        var result = Trainer.Run(spec, data.Train.Take(400), data.Test.Take(50), data.Test.Take(50), steps: 40, schedule: 40);
        // The last step (39) is past both ends of the ramps (steps 10 and 16 of 40).
        Assert.All(result.Model.Modules().OfType<BatchRenorm1d>(), layer => Assert.Equal((3.0, 5.0), (layer.RMax, layer.DMax)));
        Assert.True(result.FinalTestAccuracy > 0.2, $"accuracy {result.FinalTestAccuracy}");
    }
}
