using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;

namespace NormSharp.Tests;

/// <summary>End to end: the stack (Linear, ReLU, cross-entropy, Adam) must learn a problem a linear model cannot.</summary>
public class TrainingTests
{
    /// <summary>
    /// Two interleaved spirals, 1.5 turns each, no noise: point i of class k is at radius 0.2 + 0.8·i/n and angle
    /// 3π·i/n + kπ. Deterministic.
    /// </summary>
    private static (Tensor Points, int[] Labels) TwoSpirals(int perClass)
    {
        var points = new float[2 * perClass * 2];
        var labels = new int[2 * perClass];
        for (int k = 0; k < 2; k++)
        {
            for (int i = 0; i < perClass; i++)
            {
                double fraction = (double)i / perClass;
                double radius = 0.2 + 0.8 * fraction;
                double angle = 3 * Math.PI * fraction + k * Math.PI;
                int n = k * perClass + i;
                points[2 * n] = (float)(radius * Math.Cos(angle));
                points[2 * n + 1] = (float)(radius * Math.Sin(angle));
                labels[n] = k;
            }
        }
        return (Tensor.FromArray(points, 2 * perClass, 2), labels);
    }

    private static double Accuracy(Tensor logits, int[] labels)
    {
        var predicted = logits.ArgMax(1);
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            correct += predicted[i] == labels[i] ? 1 : 0;
        }
        return (double)correct / labels.Length;
    }

    [Fact]
    public void Mlp_learns_two_spirals_to_95_percent_training_accuracy()
    {
        var (points, labels) = TwoSpirals(100);
        var generator = new Generator(0);
        var model = new Sequential(
            new Linear(2, 64, generator: generator), new ReLU(),
            new Linear(64, 64, generator: generator), new ReLU(),
            new Linear(64, 2, generator: generator));
        var optimizer = new Adam(model.Parameters(), lr: 1e-2);
        var loss = new CrossEntropyLoss();

        using (new Autograd.NoGrad())
        {
            // A linear boundary cannot separate the spirals: the untrained network is near chance.
            Assert.InRange(Accuracy(model.Forward(points), labels), 0.3, 0.7);
        }
        float firstLoss = float.NaN, lastLoss = float.NaN;
        for (int epoch = 0; epoch < 300; epoch++)
        {
            optimizer.ZeroGrad();
            var value = loss.Forward(model.Forward(points), labels);
            value.Backward();
            optimizer.Step();
            firstLoss = epoch == 0 ? value.Item() : firstLoss;
            lastLoss = value.Item();
        }

        double accuracy;
        using (new Autograd.NoGrad())
        {
            accuracy = Accuracy(model.Forward(points), labels);
        }
        Assert.True(accuracy >= 0.95, $"training accuracy {accuracy:P1} < 95% (loss {firstLoss:G4} → {lastLoss:G4})");
        Assert.True(lastLoss < 0.2 * firstLoss, $"loss {firstLoss:G4} → {lastLoss:G4}");
    }

    [Fact]
    public void Small_convnet_overfits_a_tiny_image_batch()
    {
        // Conv → ReLU → MaxPool → Dropout → Flatten → Linear on 8 random 8x8 images with random labels: the whole
        // stack, including pooling and dropout backward, must drive the training loss down.
        var generator = new Generator(3);
        var images = Tensor.Randn(generator, 8, 1, 8, 8);
        int[] labels = [0, 1, 2, 0, 1, 2, 0, 1];
        var model = new Sequential(
            new Conv2d(1, 6, 3, padding: 1, generator: generator), new ReLU(), new MaxPool2d(2),
            new Dropout(0.1, new Generator(4)), new Flatten(), new Linear(6 * 4 * 4, 3, generator: generator));
        var optimizer = new AdamW(model.Parameters(), lr: 1e-2);
        float first = float.NaN;
        for (int step = 0; step < 60; step++)
        {
            optimizer.ZeroGrad();
            var value = F.CrossEntropy(model.Forward(images), labels, labelSmoothing: 0.05);
            value.Backward();
            optimizer.Step();
            first = step == 0 ? value.Item() : first;
        }
        model.Eval();
        using var noGrad = new Autograd.NoGrad();
        var final = F.CrossEntropy(model.Forward(images), labels);
        Assert.True(final.Item() < 0.3 * first, $"loss {first:G4} → {final.Item():G4}");
        Assert.Equal(1.0, Accuracy(model.Forward(images), labels));
    }
}
