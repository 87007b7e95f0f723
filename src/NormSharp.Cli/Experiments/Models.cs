using NormSharp.Nn;

namespace NormSharp.Cli.Experiments;

/// <summary>An optimizer as the trainer sees it: one update from the parameters' gradients, and a learning rate.</summary>
internal interface ITrainingOptimizer
{
    double LearningRate { get; set; }

    void Step();

    void ZeroGrad();
}

/// <summary>
/// The one place where the CLI builds networks, losses and optimizers from the library's layers.
/// </summary>
/// <remarks>
/// INTEGRATION POINT: until the `stack` (Conv2d, pooling, CrossEntropyLoss, Optim) and `norm`
/// (BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm) branches land on main, the MLP pieces come
/// from <see cref="Interim"/>; after the merge this file switches to the library types and
/// Interim.cs is deleted.
/// </remarks>
internal static class Models
{
    /// <summary>Builds <paramref name="model"/> with <paramref name="norm"/> before each activation; input is one sample shape, e.g. [1, 28, 28].</summary>
    /// <exception cref="ArgumentException">The combination makes no sense (instance norm on a fully connected layer).</exception>
    public static Sequential Create(ModelKind model, NormKind norm, int[] sampleShape, int classCount, Generator generator)
    {
        int inputFeatures = sampleShape.Aggregate(1, (a, b) => a * b);
        return model switch
        {
            ModelKind.PaperMlp => Mlp(inputFeatures, [100, 100, 100], classCount, norm, () => new Sigmoid(), generator),
            ModelKind.Mlp => Mlp(inputFeatures, [256, 128], classCount, norm, () => new ReLU(), generator),
            _ => Cnn(sampleShape, classCount, norm, generator),
        };
    }

    /// <summary>Mean cross-entropy of <paramref name="logits"/> [N, classes] against class indices.</summary>
    public static Tensor Loss(Tensor logits, int[] labels) => Interim.CrossEntropy(logits, labels);

    /// <summary>Creates the optimizer; momentum applies to SGD only.</summary>
    public static ITrainingOptimizer CreateOptimizer(OptimizerKind kind, IEnumerable<Parameter> parameters, double learningRate, double momentum = 0, double weightDecay = 0) =>
        kind switch
        {
            OptimizerKind.Sgd => new Interim.Sgd(parameters, learningRate, momentum, weightDecay),
            OptimizerKind.Adam => new Interim.Adam(parameters, learningRate, weightDecay, decoupled: false),
            _ => new Interim.Adam(parameters, learningRate, weightDecay, decoupled: true),
        };

    /// <summary>The index in <paramref name="model"/> of its last activation module, whose input the percentile plot follows.</summary>
    public static int LastActivationIndex(Sequential model)
    {
        for (int i = model.Count - 1; i >= 0; i--)
        {
            if (model[i] is Sigmoid or ReLU or Tanh)
            {
                return i;
            }
        }
        throw new ArgumentException("The model has no activation layer.", nameof(model));
    }

    private static Sequential Mlp(int inputFeatures, int[] hidden, int classCount, NormKind norm, Func<Module> activation, Generator generator)
    {
        var layers = new Sequential(new Flatten());
        int features = inputFeatures;
        foreach (int width in hidden)
        {
            layers.Add(new Linear(features, width, generator: generator));
            if (norm != NormKind.None)
            {
                layers.Add(FullyConnectedNorm(norm, width));
            }
            layers.Add(activation());
            features = width;
        }
        layers.Add(new Linear(features, classCount, generator: generator));
        return layers;
    }

    private static Module FullyConnectedNorm(NormKind norm, int features) => norm switch
    {
        NormKind.Batch => new Interim.BatchNorm1d(features),
        NormKind.Layer => new Interim.LayerNorm(features),
        NormKind.Instance => throw new ArgumentException(
            "Instance norm normalizes each channel over its spatial positions; a fully connected layer has none. Use --model cnn."),
        _ => throw new NotSupportedException($"{Choices.Label(norm)} lands with the norm branch (not merged yet)."),
    };

    private static Sequential Cnn(int[] sampleShape, int classCount, NormKind norm, Generator generator)
    {
        _ = (sampleShape, classCount, norm, generator);
        throw new NotSupportedException("The CNN needs Conv2d and MaxPool2d from the stack branch (not merged yet).");
    }
}
