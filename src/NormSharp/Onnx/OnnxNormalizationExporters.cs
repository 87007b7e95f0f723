using NormSharp.Functional;
using NormSharp.Nn;
using static NormSharp.Onnx.OnnxGraphBuilder;

namespace NormSharp.Onnx;

/// <summary>
/// ONNX nodes for the normalization layers in evaluation mode: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm,
/// GroupNorm, RMSNorm. Where the opset has no single node for a layer (or the layer normalizes with batch statistics
/// in evaluation), its formula is written in elementary ops: ReduceMean, Sub, Mul, Add, Sqrt, Div.
/// </summary>
internal static class OnnxNormalizationExporters
{
    /// <summary>
    /// BatchNorm1d/2d/3d, and the layers that evaluate as batch norm with running statistics (BatchRenorm1d/2d/3d,
    /// GhostBatchNorm1d/2d, SyncBatchNorm): with running statistics, one BatchNormalization node in its inference form
    /// (opset-15 semantics); channels-last input is transposed to channels first around it. Without running statistics
    /// (trackRunningStats: false) evaluation normalizes with the batch's own statistics, written out as a formula.
    /// </summary>
    public static string BatchNorm(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var norm = (NormBase)module;
        int rank = inputValue.Rank;
        int axis = F.ResolveChannelAxis(inputValue, norm.ChannelAxis, norm.GetType().Name);
        if (norm.RunningMean is null)
        {
            // Statistics over every axis but the channel's; the affine parameters broadcast along the channel axis.
            var axes = Enumerable.Range(0, rank).Where(a => a != axis).Select(a => (long)a).ToArray();
            var normalized = Standardize(graph, path, input, axes, norm.Eps, center: true);
            return Affine(graph, path, normalized, norm.Weight, norm.Bias, ChannelBroadcastShape(norm.NumFeatures, rank, axis));
        }
        if (axis == 1)
        {
            return BatchNormalizationNode(graph, norm, path, input);
        }
        // ONNX's BatchNormalization reads channels at axis 1: move the channel axis there and back.
        long[] toFirst = [0, axis, .. Enumerable.Range(1, rank - 1).Where(a => a != axis).Select(a => (long)a)];
        var back = new long[rank];
        for (int a = 0; a < rank; a++)
        {
            back[toFirst[a]] = a;
        }
        var channelsFirst = graph.Add("Transpose", path, [input], Ints("perm", toFirst));
        var normalizedFirst = BatchNormalizationNode(graph, norm, path, channelsFirst);
        return graph.Add("Transpose", path, [normalizedFirst], Ints("perm", back));
    }

    /// <summary>FrozenBatchNorm2d: one BatchNormalization node with its fixed statistics and affine (all buffers).</summary>
    public static string FrozenBatchNorm(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var norm = (FrozenBatchNorm2d)module;
        return BatchNormalizationNode(graph, path, input, norm.NumFeatures, norm.Weight, norm.Bias, norm.RunningMean, norm.RunningVar, norm.Eps, momentum: null);
    }

    /// <summary>One BatchNormalization node of a layer with running statistics (channels at axis 1).</summary>
    private static string BatchNormalizationNode(OnnxGraphBuilder graph, NormBase norm, string path, string input) =>
        BatchNormalizationNode(graph, path, input, norm.NumFeatures, norm.Weight, norm.Bias, norm.RunningMean!, norm.RunningVar!, norm.Eps, norm.Momentum);

    /// <summary>One BatchNormalization node; an absent weight is ones, an absent bias zeros.</summary>
    private static string BatchNormalizationNode(
        OnnxGraphBuilder graph, string path, string input, int channels, Tensor? weight, Tensor? bias, Tensor runningMean, Tensor runningVar, double eps, double? momentum)
    {
        var scaleName = weight is null ? graph.Constant($"{path}.weight", Ones(channels), channels) : graph.Constant($"{path}.weight", weight);
        var biasName = bias is null ? graph.Constant($"{path}.bias", new float[channels], channels) : graph.Constant($"{path}.bias", bias);
        var mean = graph.Constant($"{path}.running_mean", runningMean);
        var variance = graph.Constant($"{path}.running_var", runningVar);
        // ONNX's momentum weighs the OLD running value (running = momentum · running + (1 − momentum) · batch), ours
        // (PyTorch's) the NEW one: ONNX momentum = 1 − ours. Inference ignores it; it is written for the record, and
        // left at ONNX's default when ours is null (a cumulative average, or a frozen layer, has no fixed momentum).
        var attributes = momentum is double value
            ? new[] { Float("epsilon", eps), Float("momentum", 1 - value) }
            : new[] { Float("epsilon", eps) };
        return graph.Add("BatchNormalization", path, [input, scaleName, biasName, mean, variance], attributes);
    }

    /// <summary>
    /// InstanceNorm1d/2d/3d: InstanceNormalization (per-sample statistics); with tracked running statistics evaluation
    /// normalizes with them, which is BatchNormalization's inference form.
    /// </summary>
    public static string InstanceNorm(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var norm = (InstanceNormBase)module;
        if (inputValue.Rank < 3)
        {
            throw new NotSupportedException(
                $"ONNX export of {norm.GetType().Name} at '{path}' needs batched input (N, C, *), got shape {ShapeUtil.Format(inputValue.ShapeSpan)}.");
        }
        if (norm.RunningMean is not null)
        {
            return BatchNormalizationNode(graph, norm, path, input);
        }
        int channels = norm.NumFeatures;
        var scale = norm.Weight is null ? graph.Constant($"{path}.weight", Ones(channels), channels) : graph.Constant($"{path}.weight", norm.Weight);
        var bias = norm.Bias is null ? graph.Constant($"{path}.bias", new float[channels], channels) : graph.Constant($"{path}.bias", norm.Bias);
        return graph.Add("InstanceNormalization", path, [input, scale, bias], Float("epsilon", norm.Eps));
    }

    /// <summary>LayerNorm: LayerNormalization over the trailing normalizedShape axes from opset 17, the formula below it.</summary>
    public static string LayerNorm(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var norm = (LayerNorm)module;
        int count = norm.NormalizedShape.Length;
        if (graph.Opset < 17)
        {
            var axes = Enumerable.Range(inputValue.Rank - count, count).Select(a => (long)a).ToArray();
            var normalized = Standardize(graph, path, input, axes, norm.Eps, center: true);
            return Affine(graph, path, normalized, norm.Weight, norm.Bias, norm.NormalizedShape);
        }
        var scale = norm.Weight is null
            ? graph.Constant($"{path}.weight", Ones(Count(norm.NormalizedShape)), norm.NormalizedShape)
            : graph.Constant($"{path}.weight", norm.Weight);
        string[] inputs = norm.Bias is null ? [input, scale] : [input, scale, graph.Constant($"{path}.bias", norm.Bias)];
        return graph.Add("LayerNormalization", path, inputs, Int("axis", -count), Float("epsilon", norm.Eps));
    }

    /// <summary>
    /// GroupNorm: GroupNormalization with per-channel scale and bias from opset 21 (opsets 18-20 defined a per-group
    /// scale, so they get the formula too); below it: reshape to (N, G, −1), standardize over the last axis, reshape
    /// back, per-channel affine.
    /// </summary>
    public static string GroupNorm(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var norm = (GroupNorm)module;
        int channels = norm.NumChannels;
        if (graph.Opset >= 21)
        {
            var scale = norm.Weight is null ? graph.Constant($"{path}.weight", Ones(channels), channels) : graph.Constant($"{path}.weight", norm.Weight);
            var bias = norm.Bias is null ? graph.Constant($"{path}.bias", new float[channels], channels) : graph.Constant($"{path}.bias", norm.Bias);
            return graph.Add("GroupNormalization", path, [input, scale, bias], Float("epsilon", norm.Eps), Int("num_groups", norm.NumGroups));
        }
        var grouped = graph.Add("Reshape", path, [input, graph.Int64Constant($"{path}.group_shape", 0, norm.NumGroups, -1)]);
        var normalized = Standardize(graph, path, grouped, [2], norm.Eps, center: true);
        var restored = graph.Add("Reshape", path, [normalized, graph.Add("Shape", path, [input])]);
        return Affine(graph, path, restored, norm.Weight, norm.Bias, ChannelBroadcastShape(channels, inputValue.Rank, 1));
    }

    /// <summary>RMSNorm: RMSNormalization from opset 23, below it x / √(mean(x²) + eps) · γ.</summary>
    public static string RmsNorm(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var norm = (RMSNorm)module;
        int count = norm.NormalizedShape.Length;
        double eps = norm.Eps ?? F.FloatMachineEpsilon;
        if (graph.Opset >= 23)
        {
            var scale = norm.Weight is null
                ? graph.Constant($"{path}.weight", Ones(Count(norm.NormalizedShape)), norm.NormalizedShape)
                : graph.Constant($"{path}.weight", norm.Weight);
            return graph.Add("RMSNormalization", path, [input, scale], Int("axis", -count), Float("epsilon", eps));
        }
        var axes = Enumerable.Range(inputValue.Rank - count, count).Select(a => (long)a).ToArray();
        var normalized = Standardize(graph, path, input, axes, eps, center: false);
        return Affine(graph, path, normalized, norm.Weight, null, norm.NormalizedShape);
    }

    /// <summary>
    /// (x − mean) / √(var + eps) with mean and biased variance over <paramref name="axes"/> (kept for broadcasting);
    /// without centering, x / √(mean(x²) + eps).
    /// </summary>
    private static string Standardize(OnnxGraphBuilder graph, string path, string input, long[] axes, double eps, bool center)
    {
        var centered = center ? graph.Add("Sub", path, [input, graph.ReduceMean(path, input, axes)]) : input;
        var variance = graph.ReduceMean(path, graph.Add("Mul", path, [centered, centered]), axes);
        var std = graph.Add("Sqrt", path, [graph.Add("Add", path, [variance, graph.Scalar($"{path}.eps", (float)eps)])]);
        return graph.Add("Div", path, [centered, std]);
    }

    /// <summary>y · γ + β with γ and β viewed as <paramref name="shape"/> for broadcasting; absent ones are skipped.</summary>
    private static string Affine(OnnxGraphBuilder graph, string path, string input, Tensor? weight, Tensor? bias, int[] shape)
    {
        var scaled = weight is null ? input : graph.Add("Mul", path, [input, graph.Constant($"{path}.weight", weight, shape)]);
        return bias is null ? scaled : graph.Add("Add", path, [scaled, graph.Constant($"{path}.bias", bias, shape)]);
    }

    /// <summary>[C, 1, ..., 1]: per-channel values broadcast against rank-<paramref name="rank"/> input whose channels are at <paramref name="axis"/>.</summary>
    private static int[] ChannelBroadcastShape(int channels, int rank, int axis)
    {
        var shape = new int[rank - axis];
        Array.Fill(shape, 1);
        shape[0] = channels;
        return shape;
    }

    private static float[] Ones(int count)
    {
        var ones = new float[count];
        Array.Fill(ones, 1f);
        return ones;
    }

    private static int Count(int[] shape) => shape.Aggregate(1, (a, b) => a * b);
}
