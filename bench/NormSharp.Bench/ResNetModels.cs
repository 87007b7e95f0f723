using NormSharp.Functional;
using NormSharp.Nn;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>
/// CIFAR-style residual networks (He et al. 2016, section 4.2) built the same way in NormSharp and libtorch, for the
/// "steps" group: basic blocks conv3x3-BN-ReLU-conv3x3-BN plus a shortcut, then ReLU; a block that changes the
/// channel count or the resolution projects its shortcut with a 1x1 convolution and batch norm (option B); global
/// average pooling and a linear classifier at the end.
/// </summary>
internal static class ResNetModels
{
    /// <summary>Stages of a network: (channels, blocks, stride of the first block).</summary>
    public static readonly (int Channels, int Blocks, int Stride)[] ResNet20 = [(16, 3, 1), (32, 3, 2), (64, 3, 2)];

    /// <summary>The CIFAR-shaped network: a 32-channel stem and two basic blocks at 32 channels.</summary>
    public static readonly (int Channels, int Blocks, int Stride)[] TwoBlocks = [(32, 2, 1)];

    /// <summary>NormSharp side: stem, stages, global average pooling, linear classifier.</summary>
    public static Module Ours((int Channels, int Blocks, int Stride)[] stages, int inChannels, int classes, Generator generator) =>
        new OurResNet(stages, inChannels, classes, generator);

    /// <summary>libtorch side, the same layers.</summary>
    public static nn.Module<TorchTensor, TorchTensor> Torch((int Channels, int Blocks, int Stride)[] stages, int inChannels, int classes) =>
        new TorchResNet(stages, inChannels, classes);

    /// <summary>One NormSharp basic block.</summary>
    public sealed class OurBlock : Module
    {
        private readonly Nn.Conv2d conv1, conv2;
        private readonly Nn.BatchNorm2d norm1, norm2;
        private readonly Nn.Conv2d? projection;
        private readonly Nn.BatchNorm2d? projectionNorm;

        public OurBlock(int inChannels, int channels, int stride, Generator generator)
        {
            conv1 = RegisterModule("conv1", new Nn.Conv2d(inChannels, channels, 3, stride: stride, padding: 1, bias: false, generator: generator));
            norm1 = RegisterModule("bn1", new Nn.BatchNorm2d(channels));
            conv2 = RegisterModule("conv2", new Nn.Conv2d(channels, channels, 3, padding: 1, bias: false, generator: generator));
            norm2 = RegisterModule("bn2", new Nn.BatchNorm2d(channels));
            if (stride != 1 || inChannels != channels)
            {
                projection = RegisterModule("shortcut_conv", new Nn.Conv2d(inChannels, channels, 1, stride: stride, bias: false, generator: generator));
                projectionNorm = RegisterModule("shortcut_bn", new Nn.BatchNorm2d(channels));
            }
        }

        // Each intermediate is disposed as a TorchSharp user disposes one: its memory comes back right after the
        // backward that reads it has run (Tensor.Dispose), not at a garbage collection.
        public override Tensor Forward(Tensor input)
        {
            using var convolved = conv1.Forward(input);
            using var normalized = norm1.Forward(convolved);
            using var rectified = normalized.Relu();
            using var convolvedAgain = conv2.Forward(rectified);
            using var y = norm2.Forward(convolvedAgain);
            using var projected = projection?.Forward(input);
            using var projectedNormalized = projected is null ? null : projectionNorm!.Forward(projected);
            using var sum = y + (projectedNormalized ?? input);
            return sum.Relu();
        }
    }

    private sealed class OurResNet : Module
    {
        private readonly Nn.Conv2d stem;
        private readonly Nn.BatchNorm2d stemNorm;
        private readonly List<OurBlock> blocks = [];
        private readonly Nn.Linear classifier;

        public OurResNet((int Channels, int Blocks, int Stride)[] stages, int inChannels, int classes, Generator generator)
        {
            int channels = stages[0].Channels;
            stem = RegisterModule("conv1", new Nn.Conv2d(inChannels, channels, 3, padding: 1, bias: false, generator: generator));
            stemNorm = RegisterModule("bn1", new Nn.BatchNorm2d(channels));
            foreach (var (stageChannels, count, stride) in stages)
            {
                for (int b = 0; b < count; b++)
                {
                    blocks.Add(RegisterModule($"block{blocks.Count}", new OurBlock(channels, stageChannels, b == 0 ? stride : 1, generator)));
                    channels = stageChannels;
                }
            }
            classifier = RegisterModule("fc", new Nn.Linear(channels, classes, generator: generator));
        }

        public override Tensor Forward(Tensor input)
        {
            Tensor x;
            using (var convolved = stem.Forward(input))
            using (var normalized = stemNorm.Forward(convolved))
            {
                x = normalized.Relu();
            }
            foreach (var block in blocks)
            {
                var next = block.Forward(x);
                x.Dispose();
                x = next;
            }
            using var pooled = F.AvgPool2d(x, x.Size(2));
            x.Dispose();
            using var flat = pooled.Flatten(1);
            return classifier.Forward(flat);
        }
    }

    /// <summary>One libtorch basic block.</summary>
    public sealed class TorchBlock : nn.Module<TorchTensor, TorchTensor>
    {
        private readonly nn.Module<TorchTensor, TorchTensor> conv1, bn1, conv2, bn2, shortcut;

        public TorchBlock(int inChannels, int channels, int stride) : base(nameof(TorchBlock))
        {
            conv1 = nn.Conv2d(inChannels, channels, 3, stride: stride, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(channels);
            conv2 = nn.Conv2d(channels, channels, 3, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(channels);
            shortcut = stride != 1 || inChannels != channels
                ? nn.Sequential(nn.Conv2d(inChannels, channels, 1, stride: stride, bias: false), nn.BatchNorm2d(channels))
                : nn.Identity();
            RegisterComponents();
        }

        public override TorchTensor forward(TorchTensor input)
        {
            var y = bn2.forward(conv2.forward(nn.functional.relu(bn1.forward(conv1.forward(input)))));
            return nn.functional.relu(y + shortcut.forward(input));
        }
    }

    private sealed class TorchResNet : nn.Module<TorchTensor, TorchTensor>
    {
        private readonly nn.Module<TorchTensor, TorchTensor> conv1, bn1, fc;
        private readonly TorchSharp.Modules.ModuleList<TorchBlock> blocks = new();

        public TorchResNet((int Channels, int Blocks, int Stride)[] stages, int inChannels, int classes) : base(nameof(TorchResNet))
        {
            int channels = stages[0].Channels;
            conv1 = nn.Conv2d(inChannels, channels, 3, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(channels);
            foreach (var (stageChannels, count, stride) in stages)
            {
                for (int b = 0; b < count; b++)
                {
                    blocks.Add(new TorchBlock(channels, stageChannels, b == 0 ? stride : 1));
                    channels = stageChannels;
                }
            }
            fc = nn.Linear(channels, classes);
            RegisterComponents();
        }

        public override TorchTensor forward(TorchTensor input)
        {
            var x = nn.functional.relu(bn1.forward(conv1.forward(input)));
            foreach (var block in blocks)
            {
                x = block.forward(x);
            }
            return fc.forward(nn.functional.avg_pool2d(x, x.shape[2]).flatten(1));
        }
    }
}
