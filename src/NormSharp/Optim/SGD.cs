using System.Runtime.CompilerServices;
namespace NormSharp.Optim;

/// <summary>
/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay, exactly
/// PyTorch's <c>torch.optim.SGD</c>. For each parameter p with gradient g:
/// <code>
/// g = g + weightDecay · p                                     (if weightDecay ≠ 0)
/// b = g on the first step, else b = momentum · b + (1 − dampening) · g      (if momentum ≠ 0)
/// g = g + momentum · b if nesterov, else g = b                (if momentum ≠ 0)
/// p = p − lr · g
/// </code>
/// This momentum is the optimizer's, unrelated to batch norm's running-statistics momentum.
/// State: <c>state.{i}.momentum_buffer</c> (only when momentum ≠ 0).
/// </summary>
public sealed class SGD : Optimizer
{
    private static readonly string[] MomentumBufferNames = ["momentum_buffer"];

    /// <summary>Creates the optimizer.</summary>
    /// <param name="parameters">The parameters to update, e.g. <c>model.Parameters()</c>.</param>
    /// <param name="lr">Learning rate, >= 0.</param>
    /// <param name="momentum">Momentum factor, >= 0; default 0 (plain SGD).</param>
    /// <param name="dampening">Dampening of the momentum, default 0.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient, >= 0; default 0 (the default of groups added later).</param>
    /// <param name="nesterov">Nesterov momentum; needs momentum > 0 and dampening = 0. Default false.</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative or NaN learning rate, momentum or weight decay.</exception>
    /// <exception cref="ArgumentException">Nesterov with momentum 0 or non-zero dampening; or a bad parameter list.</exception>
    public SGD(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : base(parameters, learningRate: lr, weightDecay)
    {
        if (!(momentum >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"Invalid momentum value: {momentum}; it must be >= 0.");
        }
        if (double.IsNaN(dampening))
        {
            throw new ArgumentOutOfRangeException(nameof(dampening), dampening, "Dampening must be a number.");
        }
        if (nesterov && (momentum <= 0 || dampening != 0))
        {
            throw new ArgumentException(
                $"Nesterov momentum requires a momentum > 0 and zero dampening, got momentum {momentum} and dampening {dampening}.", nameof(nesterov));
        }
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
    }

    public double Momentum { get; }

    public double Dampening { get; }

    /// <summary>The weight decay the optimizer was created with (each group has its own: <see cref="ParamGroup.WeightDecay"/>).</summary>
    public double WeightDecay { get; }

    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> BufferNames => Momentum != 0 ? MomentumBufferNames : [];

    /// <inheritdoc/>
    protected override bool CountsSteps => false;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Step()
    {
        // Scalars are rounded to float once, and every update is float arithmetic in PyTorch's order.
        float momentum = (float)Momentum, oneMinusDampening = (float)(1 - Dampening);
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (GradientOf(i) is not { } gradient)
            {
                continue;
            }
            float negativeLearningRate = (float)-LearningRateOf(i);
            bool decays = WeightDecayOf(i) != 0;
            float weightDecay = (float)WeightDecayOf(i);
            var param = Parameters[i].AsSpan();
            var grad = gradient.Data;
            if (Momentum == 0)
            {
                for (int k = 0; k < param.Length; k++)
                {
                    float d = decays ? grad[k] + weightDecay * param[k] : grad[k];
                    param[k] += negativeLearningRate * d;
                }
                continue;
            }
            bool first = !HasState(i);
            var buffer = State(i)[0];
            for (int k = 0; k < param.Length; k++)
            {
                float d = decays ? grad[k] + weightDecay * param[k] : grad[k];
                float b = first ? d : buffer[k] * momentum + oneMinusDampening * d;
                buffer[k] = b;
                d = Nesterov ? d + momentum * b : b;
                param[k] += negativeLearningRate * d;
            }
        }
    }
}
