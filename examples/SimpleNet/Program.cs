// SimpleNet: the first program a PyTorch user writes, in NormSharp. A small convolutional network with batch norm,
// Adam and cross-entropy, trained on a synthetic 10-class image task (class c lights up row band c), so that it runs
// anywhere. Usage: dotnet run --project examples/SimpleNet -- [steps]   (default 200)
using NormSharp;
using NormSharp.Nn;
using NormSharp.Optim;

int steps = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 200;
Init.ManualSeed(0);

var model = new Sequential(
    new Conv2d(1, 8, 3, padding: 1), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2),
    new Conv2d(8, 16, 3, padding: 1), new BatchNorm2d(16), new ReLU(),
    new AdaptiveAvgPool2d(1), new Flatten(), new Linear(16, 10));
Console.WriteLine(model);
var optimizer = new Adam(model.Parameters(), lr: 1e-2);
var lossFunction = new CrossEntropyLoss();

for (int step = 1; step <= steps; step++)
{
    var (images, labels) = Batch(32);
    optimizer.ZeroGrad();
    var logits = model.Forward(images);
    var loss = lossFunction.Forward(logits, labels);
    loss.Backward();
    optimizer.Step();
    if (step % 20 == 0 || step == steps)
    {
        var predicted = logits.Max(1).Indices;
        float accuracy = predicted.Eq(Tensor.FromArray([.. labels.Select(l => (float)l)], labels.Length)).Mean().Item();
        Console.WriteLine($"step {step,4}  loss {loss.Item():F4}  batch accuracy {accuracy:P0}");
    }
}

// A batch of 1×10×10 images: noise plus a bright band on row (label), the class to find.
static (Tensor Images, int[] Labels) Batch(int size)
{
    var images = Tensor.Randn(size, 1, 10, 10) * 0.5f;
    var pixels = images.AsSpan();
    var labels = new int[size];
    for (int n = 0; n < size; n++)
    {
        labels[n] = Generator.Default.NextInt(10);
        for (int column = 0; column < 10; column++)
        {
            pixels[n * 100 + labels[n] * 10 + column] += 2f;
        }
    }
    return (images, labels);
}
