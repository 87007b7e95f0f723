using NormSharp.Autograd;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// Cross-entropy from logits with class-index targets, mean over the batch (PyTorch's <c>cross_entropy</c>,
    /// reduction 'mean', no class weights):
    /// loss = (1/N) Σ_n [(1 − ε)·(−log p[n, t_n]) + ε · (1/C) Σ_c (−log p[n, c])],  p = softmax(logits) along classes,
    /// with ε = <paramref name="labelSmoothing"/> (0 = plain cross-entropy). The log-softmax is computed stably
    /// (max subtracted, log-sum-exp in double). Backward, closed form: d logits = (p − q) / N with the smoothed
    /// target q[n, c] = (1 − ε)·[c = t_n] + ε / C.
    /// </summary>
    /// <param name="logits">[N, C] unnormalized scores.</param>
    /// <param name="targets">N class indices in [0, C).</param>
    /// <param name="labelSmoothing">ε in [0, 1], default 0.</param>
    /// <returns>A scalar (shape []).</returns>
    /// <exception cref="ArgumentException">Logits are not 2-D, or the batch sizes of logits and targets differ.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A target is outside [0, C), or ε is outside [0, 1].</exception>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, double labelSmoothing = 0)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        CheckLabelSmoothing(labelSmoothing);
        if (logits.Rank != 2)
        {
            throw new ArgumentException(
                $"CrossEntropy expected 2-D logits [N, C], got {logits.Rank}-D shape {ShapeUtil.Format(logits.ShapeSpan)}.", nameof(logits));
        }
        int batch = logits.Size(0), classes = logits.Size(1);
        if (targets.Length != batch)
        {
            throw new ArgumentException(
                $"CrossEntropy expected {batch} targets for logits of shape {ShapeUtil.Format(logits.ShapeSpan)} (batch size {batch}), got {targets.Length} targets.", nameof(targets));
        }
        for (int n = 0; n < targets.Length; n++)
        {
            if ((uint)targets[n] >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(targets), targets[n],
                    $"Target {targets[n]} at index {n} is out of range for {classes} classes (expected 0 <= target < {classes}).");
            }
        }
        return new CrossEntropyFunction(labelSmoothing).Forward(logits, targets);
    }

    /// <summary>
    /// Mean squared error, mean over all elements (PyTorch's <c>mse_loss</c>, reduction 'mean'):
    /// loss = (1/n) Σ (input − target)². Backward: d input = 2·(input − target)/n, d target = −d input.
    /// </summary>
    /// <param name="input">Any shape.</param>
    /// <param name="target">The same shape as <paramref name="input"/> (no broadcasting).</param>
    /// <returns>A scalar (shape []).</returns>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public static Tensor MseLoss(Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        if (!ShapeUtil.Equal(input.ShapeSpan, target.ShapeSpan))
        {
            throw new ArgumentException(
                $"MseLoss expected target of the input's shape {ShapeUtil.Format(input.ShapeSpan)}, got {ShapeUtil.Format(target.ShapeSpan)}.", nameof(target));
        }
        return new MseLossFunction().Forward(input, target);
    }

    internal static void CheckLabelSmoothing(double labelSmoothing)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, $"Label smoothing must be in [0, 1], got {labelSmoothing}.");
        }
    }

    private sealed class CrossEntropyFunction(double labelSmoothing) : Function
    {
        private float[] probabilities = [];
        private int[] targets = [];

        public override string Name => "CrossEntropy";

        public Tensor Forward(Tensor logits, int[] targets)
        {
            int batch = logits.Size(0), classes = logits.Size(1);
            var x = logits.Data;
            var softmax = StoragePool.NewArray(x.Length, clear: false);
            double total = 0;
            for (int n = 0; n < batch; n++)
            {
                var row = x.Slice(n * classes, classes);
                double logSum = SoftmaxRow(row, classes, 1, log: false, softmax.AsSpan(n * classes, classes));
                // −log p_c = logSum − x_c, so the mean over classes of −log p is logSum − mean(x).
                double rowSum = 0;
                foreach (float v in row)
                {
                    rowSum += v;
                }
                double negativeLogLikelihood = logSum - row[targets[n]];
                double smooth = logSum - rowSum / classes;
                total += (1 - labelSmoothing) * negativeLogLikelihood + labelSmoothing * smooth;
            }
            var output = Tensor.Scalar((float)(total / batch));
            var result = Record(output, logits);
            if (result.GradFn == this)
            {
                probabilities = softmax;
                this.targets = (int[])targets.Clone();
            }
            return result;
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            int batch = targets.Length, classes = batch == 0 ? 0 : probabilities.Length / batch;
            double scale = gradOutput.Item() / batch;
            double uniform = labelSmoothing / Math.Max(1, classes);
            var gradInput = Tensor.Zeros(batch, classes);
            var dx = gradInput.AsSpan();
            for (int n = 0; n < batch; n++)
            {
                for (int c = 0; c < classes; c++)
                {
                    int at = n * classes + c;
                    double target = uniform + (c == targets[n] ? 1 - labelSmoothing : 0);
                    dx[at] = (float)(scale * (probabilities[at] - target));
                }
            }
            return [gradInput];
        }
    }

    private sealed class MseLossFunction : Function
    {
        public override string Name => "MseLoss";

        public Tensor Forward(Tensor input, Tensor target)
        {
            var x = input.Data;
            var y = target.Data;
            double sum = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double difference = (double)x[i] - y[i];
                sum += difference * difference;
            }
            SaveForBackward(input, target);
            return Record(Tensor.Scalar((float)(sum / x.Length)), input, target);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var input = SavedTensors[0];
            var target = SavedTensors[1];
            var x = input.Data;
            var y = target.Data;
            double scale = 2.0 * gradOutput.Item() / x.Length;
            var gradInput = Tensor.Zeros(input.Shape);
            var dx = gradInput.AsSpan();
            for (int i = 0; i < dx.Length; i++)
            {
                dx[i] = (float)(scale * ((double)x[i] - y[i]));
            }
            Tensor? gradTarget = null;
            if (NeedsInputGrad[1])
            {
                gradTarget = Tensor.Zeros(target.Shape);
                var dt = gradTarget.AsSpan();
                for (int i = 0; i < dt.Length; i++)
                {
                    dt[i] = -dx[i];
                }
            }
            return [NeedsInputGrad[0] ? gradInput : null, gradTarget];
        }
    }
}
