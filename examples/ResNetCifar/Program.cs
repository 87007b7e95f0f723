// A small ResNet (He et al., 2016) on CIFAR-shaped data [N, 3, 32, 32]: basic blocks with batch norm and identity or
// 1×1-convolution shortcuts, global average pooling, SGD with momentum and no weight decay on BN's γ/β and biases,
// linear warm-up then a multi-step decay, gradient-norm clipping. The data are synthetic (each class a different
// colour tint plus noise) so that the program runs anywhere. Usage: dotnet run --project examples/ResNetCifar -- [steps]
using NormSharp;
using NormSharp.Nn;
using NormSharp.Optim;

int steps = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 60;
Init.ManualSeed(1);

var model = new ResNet(widths: [8, 16, 32], classes: 10);
var optimizer = new SGD(model.Parameters(), lr: 0.05, momentum: 0.9, weightDecay: 5e-4).NoWeightDecayOnNormAndBias(model);
var schedule = new SequentialLR(optimizer,
    [new LinearLR(optimizer, startFactor: 0.1, totalIters: 5), new MultiStepLR(optimizer, [steps / 2, 3 * steps / 4])], [5]);
var lossFunction = new CrossEntropyLoss(labelSmoothing: 0.1);
Console.WriteLine($"{model.Parameters().Sum(p => p.Length)} parameters in {optimizer.ParamGroups.Count} groups");

for (int step = 1; step <= steps; step++)
{
    var (images, labels) = Batch(16);
    optimizer.ZeroGrad();
    var loss = lossFunction.Forward(model.Forward(images), labels);
    loss.Backward();
    double norm = GradientClipping.ClipGradNorm(model.Parameters(), maxNorm: 5.0);
    optimizer.Step();
    schedule.Step();
    if (step % 10 == 0 || step == steps)
    {
        Console.WriteLine($"step {step,4}  loss {loss.Item():F4}  gradient norm {norm:F3}  lr {optimizer.LearningRate:G3}");
    }
}

static (Tensor Images, int[] Labels) Batch(int size)
{
    var images = Tensor.Randn(size, 3, 32, 32);
    var pixels = images.AsSpan();
    var labels = new int[size];
    for (int n = 0; n < size; n++)
    {
        labels[n] = Generator.Default.NextInt(10);
        for (int channel = 0; channel < 3; channel++)
        {
            // Class c tints channel k by the k-th bit of c + 1, so that the ten classes differ in colour.
            float tint = ((labels[n] + 1) >> channel & 1) == 1 ? 1.5f : -0.5f;
            foreach (ref float pixel in pixels.Slice((n * 3 + channel) * 1024, 1024))
            {
                pixel += tint;
            }
        }
    }
    return (images, labels);
}

/// <summary>conv-BN-ReLU-conv-BN plus the shortcut, then ReLU (torchvision's BasicBlock).</summary>
internal sealed class BasicBlock : Module
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Conv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly Module shortcut;

    public BasicBlock(int inChannels, int outChannels, int stride)
    {
        conv1 = new Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        bn1 = new BatchNorm2d(outChannels);
        conv2 = new Conv2d(outChannels, outChannels, 3, padding: 1, bias: false);
        bn2 = new BatchNorm2d(outChannels);
        shortcut = stride == 1 && inChannels == outChannels
            ? new Identity()
            : new Sequential(new Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), new BatchNorm2d(outChannels));
        // One call registers every field above under its name (conv1.weight, bn1.running_mean, shortcut.0.weight ...).
        RegisterComponents();
    }

    public override Tensor Forward(Tensor input)
    {
        var x = bn1.ForwardRelu(conv1.Forward(input));
        x = bn2.Forward(conv2.Forward(x));
        return (x + shortcut.Forward(input)).Relu();
    }
}

/// <summary>A stem, one basic block per width (stride 2 from the second on), global average pooling and a linear head.</summary>
internal sealed class ResNet : Module
{
    private readonly Sequential stem;
    private readonly ModuleList blocks = new();
    private readonly Sequential head;

    public ResNet(int[] widths, int classes)
    {
        stem = new Sequential(new Conv2d(3, widths[0], 3, padding: 1, bias: false), new BatchNorm2d(widths[0]), new ReLU());
        for (int i = 0; i < widths.Length; i++)
        {
            blocks.Add(new BasicBlock(i == 0 ? widths[0] : widths[i - 1], widths[i], stride: i == 0 ? 1 : 2));
        }
        head = new Sequential(new AdaptiveAvgPool2d(1), new Flatten(), new Linear(widths[^1], classes));
        RegisterComponents();
    }

    public override Tensor Forward(Tensor input)
    {
        var x = stem.Forward(input);
        foreach (var block in blocks)
        {
            x = block.Forward(x);
        }
        return head.Forward(x);
    }
}
