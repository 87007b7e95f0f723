using NormSharp.Autograd;
using NormSharp.Nn;

namespace NormSharp.Cli.Experiments;

/// <summary>
/// TEMPORARY stand-ins, composed from tensor ops, for library pieces being written on other
/// branches (cross-entropy, SGD, Adam, batch and layer norm). They let the CLI run end to end
/// before those land; <see cref="Models"/> is the only user. Delete this file at the merge.
/// </summary>
internal static class Interim
{
    /// <summary>mean over rows of logsumexp(logits) - logits[label], computed on max-shifted logits.</summary>
    public static Tensor CrossEntropy(Tensor logits, int[] labels)
    {
        int n = logits.Size(0), classes = logits.Size(1);
        var max = new float[n];
        var oneHot = new float[n * classes];
        var values = logits.AsSpan();
        for (int i = 0; i < n; i++)
        {
            max[i] = float.NegativeInfinity;
            for (int c = 0; c < classes; c++)
            {
                max[i] = Math.Max(max[i], values[i * classes + c]);
            }
            oneHot[i * classes + labels[i]] = 1;
        }
        var shifted = logits - Tensor.FromArray(max, n, 1);
        var logSumExp = shifted.Exp().Sum(1, keepDim: true).Log();
        var picked = (shifted * Tensor.FromArray(oneHot, n, classes)).Sum(1, keepDim: true);
        return (logSumExp - picked).Mean();
    }

    /// <summary>Batch norm over dimension 0 of [N, C], PyTorch semantics (biased variance to normalize, unbiased into running_var).</summary>
    public sealed class BatchNorm1d : Module
    {
        private readonly Tensor runningMean;
        private readonly Tensor runningVar;

        public BatchNorm1d(int features)
        {
            Weight = RegisterParameter("weight", new Parameter(Tensor.Ones(features)))!;
            Bias = RegisterParameter("bias", new Parameter(Tensor.Zeros(features)))!;
            runningMean = RegisterBuffer("running_mean", Tensor.Zeros(features))!;
            runningVar = RegisterBuffer("running_var", Tensor.Ones(features))!;
        }

        public Parameter Weight { get; }

        public Parameter Bias { get; }

        public override Tensor Forward(Tensor input)
        {
            if (!Training)
            {
                var invStd = 1f / (runningVar.Detach() + 1e-5f).Sqrt();
                return (input - runningMean.Detach()) * invStd * Weight + Bias;
            }
            int n = input.Size(0);
            var mean = input.Mean(0, keepDim: true);
            var centered = input - mean;
            var variance = (centered * centered).Mean(0, keepDim: true);
            using (new NoGrad())
            {
                var m = mean.AsSpan();
                var v = variance.AsSpan();
                var rm = runningMean.AsSpan();
                var rv = runningVar.AsSpan();
                for (int c = 0; c < rm.Length; c++)
                {
                    rm[c] = 0.9f * rm[c] + 0.1f * m[c];
                    rv[c] = 0.9f * rv[c] + 0.1f * v[c] * n / (n - 1);
                }
            }
            return centered / (variance + 1e-5f).Sqrt() * Weight + Bias;
        }
    }

    /// <summary>Layer norm over the last dimension of [N, C].</summary>
    public sealed class LayerNorm : Module
    {
        public LayerNorm(int features)
        {
            Weight = RegisterParameter("weight", new Parameter(Tensor.Ones(features)))!;
            Bias = RegisterParameter("bias", new Parameter(Tensor.Zeros(features)))!;
        }

        public Parameter Weight { get; }

        public Parameter Bias { get; }

        public override Tensor Forward(Tensor input)
        {
            var centered = input - input.Mean(1, keepDim: true);
            var variance = (centered * centered).Mean(1, keepDim: true);
            return centered / (variance + 1e-5f).Sqrt() * Weight + Bias;
        }
    }

    /// <summary>SGD with optional momentum and L2 weight decay (PyTorch's update rule, dampening 0).</summary>
    public sealed class Sgd(IEnumerable<Parameter> parameters, double learningRate, double momentum, double weightDecay) : ITrainingOptimizer
    {
        private readonly Parameter[] parameters = parameters.ToArray();
        private readonly Dictionary<Parameter, float[]> velocity = [];

        public double LearningRate { get; set; } = learningRate;

        public void Step()
        {
            foreach (var p in parameters)
            {
                if (p.Grad is null)
                {
                    continue;
                }
                var w = p.AsSpan();
                var g = p.Grad.AsSpan();
                float lr = (float)LearningRate, mu = (float)momentum, wd = (float)weightDecay;
                float[]? v = null;
                if (mu != 0 && !velocity.TryGetValue(p, out v))
                {
                    v = new float[w.Length];
                    velocity[p] = v;
                }
                for (int i = 0; i < w.Length; i++)
                {
                    float d = g[i] + wd * w[i];
                    if (v is not null)
                    {
                        v[i] = mu * v[i] + d;
                        d = v[i];
                    }
                    w[i] -= lr * d;
                }
            }
        }

        public void ZeroGrad()
        {
            foreach (var p in parameters)
            {
                p.Grad = null;
            }
        }
    }

    /// <summary>Adam (β = 0.9, 0.999, eps 1e-8), with L2 or decoupled (AdamW) weight decay.</summary>
    public sealed class Adam(IEnumerable<Parameter> parameters, double learningRate, double weightDecay, bool decoupled) : ITrainingOptimizer
    {
        private readonly Parameter[] parameters = parameters.ToArray();
        private readonly Dictionary<Parameter, (float[] M, float[] V)> state = [];
        private int step;

        public double LearningRate { get; set; } = learningRate;

        public void Step()
        {
            step++;
            double c1 = 1 - Math.Pow(0.9, step), c2 = 1 - Math.Pow(0.999, step);
            foreach (var p in parameters)
            {
                if (p.Grad is null)
                {
                    continue;
                }
                if (!state.TryGetValue(p, out var s))
                {
                    s = (new float[p.Length], new float[p.Length]);
                    state[p] = s;
                }
                var w = p.AsSpan();
                var g = p.Grad.AsSpan();
                for (int i = 0; i < w.Length; i++)
                {
                    double d = g[i];
                    if (decoupled)
                    {
                        w[i] -= (float)(LearningRate * weightDecay * w[i]);
                    }
                    else
                    {
                        d += weightDecay * w[i];
                    }
                    s.M[i] = (float)(0.9 * s.M[i] + 0.1 * d);
                    s.V[i] = (float)(0.999 * s.V[i] + 0.001 * d * d);
                    w[i] -= (float)(LearningRate * (s.M[i] / c1) / (Math.Sqrt(s.V[i] / c2) + 1e-8));
                }
            }
        }

        public void ZeroGrad()
        {
            foreach (var p in parameters)
            {
                p.Grad = null;
            }
        }
    }
}
