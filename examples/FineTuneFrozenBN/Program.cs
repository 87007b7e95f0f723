// Fine-tuning with frozen batch norm: a backbone is trained on one task and saved; a new model loads it, freezes the
// backbone's parameters, keeps its BatchNorm layers in evaluation mode (running statistics, no update) while the rest
// trains, and learns a new head for a second task. FrozenBatchNorm2d / FreezeStatistics are the dedicated tools for
// this; Eval() on the BN layers is the plain-PyTorch way and what this example shows.
// Usage: dotnet run --project examples/FineTuneFrozenBN -- [steps]   (default 60)
using NormSharp;
using NormSharp.Nn;
using NormSharp.Optim;

int steps = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 60;
Init.ManualSeed(2);

// 1. Pretrain a backbone + head on task A (4 classes).
var pretrained = Model(classes: 4);
Train(pretrained, pretrained.Parameters(), steps, classes: 4, label: "pretrain");
var backboneState = ((Sequential)pretrained[0]).StateDict();

// 2. A new model for task B (6 classes): load the backbone, freeze it, train only the new head.
var model = Model(classes: 6);
var backbone = (Sequential)model[0];
backbone.LoadStateDict(backboneState);
foreach (var parameter in backbone.Parameters())
{
    parameter.RequiresGrad = false;
}
var runningMeans = backbone.Modules().OfType<BatchNorm2d>().Select(bn => bn.RunningMean!.ToArray()).ToList();
Train(model, ((Module)model[1]).Parameters(), steps, classes: 6, label: "fine-tune");
bool unchanged = backbone.Modules().OfType<BatchNorm2d>().Select(bn => bn.RunningMean!.ToArray()).Zip(runningMeans).All(pair => pair.First.SequenceEqual(pair.Second));
Console.WriteLine($"backbone running statistics unchanged by fine-tuning: {unchanged}");
return unchanged ? 0 : 1;

static Sequential Model(int classes) => new(
    new Sequential(new Conv2d(3, 8, 3, padding: 1), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2),
        new Conv2d(8, 16, 3, padding: 1), new BatchNorm2d(16), new ReLU(), new AdaptiveAvgPool2d(1), new Flatten()),
    new Linear(16, classes));

static void Train(Sequential model, IEnumerable<Tensor> trainable, int steps, int classes, string label)
{
    var optimizer = new AdamW(trainable, lr: 1e-2);
    var lossFunction = new CrossEntropyLoss();
    model.Train();
    if (label == "fine-tune")
    {
        // Frozen BN: evaluation mode after Train(), so that batch statistics neither normalize nor update the running ones.
        foreach (var batchNorm in model.Modules().OfType<BatchNormBase>())
        {
            batchNorm.Eval();
        }
    }
    for (int step = 1; step <= steps; step++)
    {
        var (images, labels) = Batch(16, classes);
        optimizer.ZeroGrad();
        var loss = lossFunction.Forward(model.Forward(images), labels);
        loss.Backward();
        optimizer.Step();
        if (step % 20 == 0 || step == steps)
        {
            Console.WriteLine($"{label} step {step,4}  loss {loss.Item():F4}");
        }
    }
}

// 3×16×16 images: noise plus a bright square whose position is the class.
static (Tensor Images, int[] Labels) Batch(int size, int classes)
{
    var images = Tensor.Randn(size, 3, 16, 16) * 0.5f;
    var pixels = images.AsSpan();
    var labels = new int[size];
    for (int n = 0; n < size; n++)
    {
        labels[n] = Generator.Default.NextInt(classes);
        int top = labels[n] / 3 * 6, left = labels[n] % 3 * 5;
        for (int channel = 0; channel < 3; channel++)
        {
            for (int y = top; y < top + 4; y++)
            {
                pixels.Slice(((n * 3 + channel) * 16 + y) * 16 + left, 4).Fill(2f);
            }
        }
    }
    return (images, labels);
}
