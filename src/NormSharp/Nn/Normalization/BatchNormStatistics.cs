using NormSharp.Autograd;

namespace NormSharp.Nn;

/// <summary>
/// Recalibration of the running statistics of every batch norm in a model from data, without training: after
/// weight averaging (SWA, whose averaged weights never produced the statistics it keeps), after pruning or fusion, or to
/// adapt a model to a new domain. AdaBN (Li et al., 2016, "Revisiting Batch Normalization For Practical Domain
/// Adaptation") is <see cref="Update"/> run on target-domain data.
/// </summary>
/// <remarks>
/// <para>Both methods run the model forward in training mode without recording gradients, and then put every module
/// back in the mode it had (PyTorch's <c>update_bn</c> puts the whole model in the root's mode instead). Dropout is
/// active during the pass, as in PyTorch. The layers concerned are the <see cref="BatchNormBase"/> layers that track
/// running statistics and whose <see cref="BatchNormBase.FreezeStatistics"/> is false (frozen layers keep their
/// statistics: unfreeze them to recalibrate them). During the pass a <see cref="BatchRenormBase"/> layer runs with
/// rMax 1 and dMax 0 (plain batch norm: its correction would read the statistics being rebuilt); its bounds are restored.</para>
/// </remarks>
public static class BatchNormStatistics
{
    /// <summary>
    /// PyTorch's <c>torch.optim.swa_utils.update_bn</c>: resets the running statistics of every batch norm (mean 0,
    /// variance 1, <see cref="NormBase.NumBatchesTracked"/> 0), sets momentum to null (a cumulative average) and runs
    /// the model over <paramref name="batches"/> once, then restores each layer's momentum and each module's mode. The
    /// running mean ends as the equal-weight average of the batch means, the running variance as that of the unbiased
    /// batch variances (in float, updated batch by batch as PyTorch does), and NumBatchesTracked as the number of batches
    /// (of chunks for GhostBatchNorm), so that a later training with momentum null continues the same average.
    /// </summary>
    /// <param name="model">The model; its layers are changed in place.</param>
    /// <param name="batches">Model inputs (not labels), each one forward.</param>
    public static void Update(Module model, IEnumerable<Tensor> batches)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        var layers = Recalibrated(model);
        if (layers.Count == 0)
        {
            return;
        }
        using var pass = new TrainingPass(model, layers);
        foreach (var layer in layers)
        {
            layer.ResetRunningStats();
        }
        foreach (var batch in batches)
        {
            model.Forward(batch);
        }
    }

    /// <summary>
    /// fvcore's PreciseBN (<c>update_bn_stats</c>; Wu and Johnson, 2021, "Rethinking 'Batch' in BatchNorm"): the
    /// running mean and variance of every batch norm become the equal-weight average, in double, of the per-batch mean
    /// and unbiased variance over the first <paramref name="numBatches"/> batches. Each batch is normalized with its own
    /// statistics on the way, as in training. Momentum and modes are restored; NumBatchesTracked ends as the number of
    /// batches (of chunks for GhostBatchNorm) averaged. Unlike an exponential moving average, the result does not
    /// depend on the last batches more than on the first ones, nor on the weights that were current when they were seen.
    /// </summary>
    /// <param name="model">The model; its layers are changed in place.</param>
    /// <param name="batches">Model inputs (not labels); the first <paramref name="numBatches"/> are used.</param>
    /// <param name="numBatches">How many batches to average; fvcore recommends about 200 batches of the training batch size.</param>
    /// <exception cref="ArgumentOutOfRangeException">numBatches ≤ 0.</exception>
    /// <exception cref="ArgumentException"><paramref name="batches"/> ended before numBatches batches (the running statistics are then left as they were).</exception>
    public static void UpdatePrecise(Module model, IEnumerable<Tensor> batches, int numBatches)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBatches);
        var layers = Recalibrated(model);
        if (layers.Count == 0)
        {
            return;
        }
        var saved = layers.Select(layer => (Mean: layer.RunningMean!.ToArray(), Var: layer.RunningVar!.ToArray(), Count: layer.NumBatchesTracked)).ToList();
        var meanSums = layers.Select(layer => new double[layer.NumFeatures]).ToList();
        var varSums = layers.Select(layer => new double[layer.NumFeatures]).ToList();
        var counts = new long[layers.Count];
        int seen = 0;
        using (var pass = new TrainingPass(model, layers))
        {
            foreach (var batch in batches)
            {
                if (seen == numBatches)
                {
                    break;
                }
                // A reset and a cumulative average per batch leave in the running statistics this batch's mean and
                // unbiased variance (for GhostBatchNorm, the average over its chunks).
                foreach (var layer in layers)
                {
                    layer.ResetRunningStats();
                }
                model.Forward(batch);
                for (int i = 0; i < layers.Count; i++)
                {
                    Accumulate(layers[i].RunningMean!.Data, meanSums[i]);
                    Accumulate(layers[i].RunningVar!.Data, varSums[i]);
                    counts[i] += layers[i].NumBatchesTracked;
                }
                seen++;
            }
        }
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            if (seen < numBatches)
            {
                saved[i].Mean.CopyTo(layer.RunningMean!.AsSpan());
                saved[i].Var.CopyTo(layer.RunningVar!.AsSpan());
                layer.NumBatchesTracked = saved[i].Count;
                continue;
            }
            var mean = layer.RunningMean!.AsSpan();
            var variance = layer.RunningVar!.AsSpan();
            for (int c = 0; c < mean.Length; c++)
            {
                mean[c] = (float)(meanSums[i][c] / numBatches);
                variance[c] = (float)(varSums[i][c] / numBatches);
            }
            layer.NumBatchesTracked = counts[i];
        }
        if (seen < numBatches)
        {
            throw new ArgumentException(
                $"UpdatePrecise was asked to average {numBatches} batches, but the batches ended after {seen}; the running statistics were left unchanged.",
                nameof(batches));
        }
    }

    /// <summary>The batch norms whose statistics are recalibrated: tracking, not frozen.</summary>
    private static List<BatchNormBase> Recalibrated(Module model) =>
        model.Modules().OfType<BatchNormBase>().Distinct().Where(layer => layer.TrackRunningStats && !layer.FreezeStatistics).ToList();

    private static void Accumulate(ReadOnlySpan<float> values, double[] sums)
    {
        for (int c = 0; c < sums.Length; c++)
        {
            sums[c] += values[c];
        }
    }

    /// <summary>
    /// The state of a recalibration pass: the model in training mode without gradients, the layers with momentum null
    /// and plain batch normalization; disposing restores each module's mode and each layer's settings.
    /// </summary>
    private sealed class TrainingPass : IDisposable
    {
        private readonly List<(Module Module, bool Training)> modes;
        private readonly List<(BatchNormBase Layer, double? Momentum)> momenta;
        private readonly List<(BatchRenormBase Layer, double RMax, double DMax)> bounds;
        private readonly NoGrad noGrad;

        public TrainingPass(Module model, List<BatchNormBase> layers)
        {
            modes = model.Modules().Select(m => (m, m.Training)).ToList();
            momenta = layers.Select(layer => (layer, layer.Momentum)).ToList();
            bounds = layers.OfType<BatchRenormBase>().Select(layer => (layer, layer.RMax, layer.DMax)).ToList();
            foreach (var layer in layers)
            {
                layer.Momentum = null;
            }
            foreach (var (layer, _, _) in bounds)
            {
                layer.RMax = 1;
                layer.DMax = 0;
            }
            model.Train();
            noGrad = new NoGrad();
        }

        public void Dispose()
        {
            noGrad.Dispose();
            // Modules() lists parents before their children, so a parent's Train does not undo a child's own mode.
            foreach (var (module, training) in modes)
            {
                module.Train(training);
            }
            foreach (var (layer, momentum) in momenta)
            {
                layer.Momentum = momentum;
            }
            foreach (var (layer, rMax, dMax) in bounds)
            {
                layer.RMax = rMax;
                layer.DMax = dMax;
            }
        }
    }
}
