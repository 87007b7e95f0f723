using NormSharp.Optim;

namespace NormSharp.Tests;

public class LRSchedulerTests
{
    [Fact]
    public void StepLR_decays_by_gamma_every_step_size_epochs()
    {
        var optimizer = new SGD(new TinyProblem().Parameters, lr: 1.0);
        var schedule = new StepLR(optimizer, stepSize: 3, gamma: 0.5);
        double[] expected = [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25];
        Assert.Equal(1.0, optimizer.LearningRate);
        for (int epoch = 1; epoch < expected.Length; epoch++)
        {
            schedule.Step();
            Assert.Equal(epoch, schedule.LastEpoch);
            Assert.Equal(expected[epoch], optimizer.LearningRate, 1e-15);
        }
    }

    [Fact]
    public void CosineAnnealingLR_follows_the_closed_form()
    {
        var optimizer = new Adam(new TinyProblem().Parameters, lr: 1.0);
        var schedule = new CosineAnnealingLR(optimizer, tMax: 10, etaMin: 0.1);
        for (int epoch = 1; epoch <= 12; epoch++)
        {
            schedule.Step();
            Assert.Equal(0.1 + 0.9 * (1 + Math.Cos(Math.PI * epoch / 10)) / 2, optimizer.LearningRate, 1e-15);
        }
        // Hand values: halfway the rate is the midpoint, at tMax the minimum.
        Assert.Equal(0.55, schedule.LearningRateAt(5), 1e-12);
        Assert.Equal(0.1, schedule.LearningRateAt(10), 1e-12);
        Assert.Equal(1.0, schedule.LearningRateAt(0), 1e-12);
    }

    [Fact]
    public void Setting_last_epoch_resumes_the_schedule()
    {
        var continuous = new SGD(new TinyProblem().Parameters, lr: 0.2);
        var schedule = new CosineAnnealingLR(continuous, tMax: 7);
        for (int epoch = 0; epoch < 4; epoch++)
        {
            schedule.Step();
        }
        var resumed = new SGD(new TinyProblem().Parameters, lr: 0.2);
        var resumedSchedule = new CosineAnnealingLR(resumed, tMax: 7) { LastEpoch = 4 };
        Assert.Equal(continuous.LearningRate, resumed.LearningRate);
        schedule.Step();
        resumedSchedule.Step();
        Assert.Equal(continuous.LearningRate, resumed.LearningRate);
    }

    [Fact]
    public void Invalid_arguments_are_rejected()
    {
        var optimizer = new SGD(new TinyProblem().Parameters, lr: 0.1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepLR(optimizer, stepSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealingLR(optimizer, tMax: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealingLR(optimizer, tMax: 5, etaMin: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepLR(optimizer, 2) { LastEpoch = -1 });
    }
}
