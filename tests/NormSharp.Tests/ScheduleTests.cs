using NormSharp.Optim;

namespace NormSharp.Tests;

/// <summary>MultiStepLR, LinearLR, SequentialLR and OneCycleLR closed forms, hand-computed from PyTorch's definitions.</summary>
public class ScheduleTests
{
    private static SGD Optimizer(double lr) => new([Tensor.Zeros(1)], lr);

    [Fact]
    public void MultiStepLR_decays_once_per_milestone_and_twice_for_a_repeated_one()
    {
        var schedule = new MultiStepLR(Optimizer(1.0), [3, 1, 3], gamma: 0.5);
        Assert.Equal([1.0, 0.5, 0.5, 0.125, 0.125], Enumerable.Range(0, 5).Select(epoch => schedule.LearningRateAt(epoch)));
    }

    [Fact]
    public void Warm_up_then_cosine_through_SequentialLR()
    {
        var optimizer = Optimizer(0.4);
        var warmUp = new LinearLR(optimizer, startFactor: 0.25, totalIters: 2);
        Assert.Equal(0.1, optimizer.LearningRate, 12);   // LinearLR sets epoch 0's rate at once, as PyTorch
        var cosine = new CosineAnnealingLR(optimizer, tMax: 4);
        var schedule = new SequentialLR(optimizer, [warmUp, cosine], [2]);
        double[] expected = [0.1, 0.25, 0.4, 0.4 * (1 + Math.Cos(Math.PI / 4)) / 2, 0.2];
        for (int epoch = 0; epoch < expected.Length; epoch++)
        {
            Assert.Equal(expected[epoch], optimizer.LearningRate, 12);
            schedule.Step();
        }
    }

    [Fact]
    public void OneCycleLR_rises_to_the_peak_then_falls_to_the_floor()
    {
        var optimizer = Optimizer(123);
        var schedule = new OneCycleLR(optimizer, maxLr: 1.0, totalSteps: 11, pctStart: 0.5, annealStrategy: AnnealStrategy.Linear, divFactor: 10, finalDivFactor: 100);
        Assert.Equal(0.1, optimizer.LearningRate, 12);
        // PyTorch's phase ends: the peak at pctStart · totalSteps − 1 = 4.5, the floor at totalSteps − 1 = 10.
        Assert.Equal(0.1 + 0.9 * 4 / 4.5, schedule.LearningRateAt(4), 12);
        Assert.Equal(1.0 - 0.999 * 2.5 / 5.5, schedule.LearningRateAt(7), 12);
        Assert.Equal(0.001, schedule.LearningRateAt(10), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.LearningRateAt(12));
    }

    [Fact]
    public void A_group_added_later_gets_the_optimizer_defaults_and_its_own_schedule()
    {
        var optimizer = new SGD([Tensor.Zeros(1)], lr: 0.2, weightDecay: 0.01);
        optimizer.AddParamGroup(new ParamGroup([Tensor.Zeros(2)], lr: 0.02));
        Assert.Equal(0.01, optimizer.ParamGroups[1].WeightDecay);
        var schedule = new StepLR(optimizer, stepSize: 1, gamma: 0.5);
        schedule.Step();
        Assert.Equal(0.1, optimizer.ParamGroups[0].LearningRate, 12);
        Assert.Equal(0.01, optimizer.ParamGroups[1].LearningRate, 12);
        var duplicate = Assert.Throws<ArgumentException>(() => optimizer.AddParamGroup(new ParamGroup(optimizer.Parameters.Take(1))));
        Assert.Contains("more than once", duplicate.Message, StringComparison.Ordinal);
    }
}
