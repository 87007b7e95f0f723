using NormSharp.Nn;

namespace NormSharp.Distributed;

/// <summary>
/// Data-parallel training over a <see cref="ProcessGroup"/> (PyTorch's <c>DistributedDataParallel</c>): every rank holds
/// a replica of the module and trains it on its own shard of each batch; the replicas start from rank 0's parameters and
/// buffers, and <see cref="SynchronizeGradients"/> averages the gradients over the ranks after each backward, so every
/// replica takes the same optimizer step and they stay identical.
/// </summary>
/// <remarks>
/// <para>One step: <c>loss = criterion(ddp.Forward(shard)); loss.Backward(); ddp.SynchronizeGradients(); optimizer.Step();</c>
/// (PyTorch runs the averaging inside the backward through autograd hooks; here it is an explicit call). With
/// <see cref="SyncBatchNorm"/> layers, equal shards and a loss that is a mean over the shard, this equals one process
/// training on the whole batch.</para>
/// <para>Gradients are averaged in buckets of about <c>bucketCapMB</c> megabytes (PyTorch's default 25), filled in reverse
/// parameter order (roughly the order in which the backward produces them): one all-reduce per bucket instead of one per
/// parameter. A parameter without a gradient on a rank counts as zeros there, so every rank makes the same calls.</para>
/// <para>With <c>broadcastBuffers</c> (the default, as PyTorch), each training forward first copies rank 0's buffers
/// (running statistics) to every rank. The state dict holds the replica under <c>module.</c>, as PyTorch's; save
/// <see cref="Module"/>'s state for a checkpoint that loads into the plain model, from rank 0 only.</para>
/// </remarks>
public sealed class DistributedDataParallel : Module
{
    private readonly bool broadcastBuffers;
    private readonly List<Parameter[]> buckets = [];

    /// <summary>Wraps <paramref name="module"/> and copies rank 0's parameters and buffers to every rank (a collective).</summary>
    /// <param name="module">This rank's replica.</param>
    /// <param name="group">The ranks that train together.</param>
    /// <param name="bucketCapMB">Largest gradient bucket in megabytes (10⁶ bytes) before a new one starts; &gt; 0.</param>
    /// <param name="broadcastBuffers">Copy rank 0's buffers to every rank at each training forward.</param>
    public DistributedDataParallel(Module module, ProcessGroup group, double bucketCapMB = 25, bool broadcastBuffers = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(group);
        if (!(bucketCapMB > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(bucketCapMB), bucketCapMB, "The bucket size must be > 0 megabytes (PyTorch's default is 25).");
        }
        Module = RegisterModule("module", module);
        Group = group;
        this.broadcastBuffers = broadcastBuffers;
        long capacity = (long)(bucketCapMB * 1e6 / sizeof(float));
        var bucket = new List<Parameter>();
        long bucketLength = 0;
        foreach (var parameter in module.Parameters().Reverse())
        {
            if (bucket.Count > 0 && bucketLength + parameter.Length > capacity)
            {
                buckets.Add([.. bucket]);
                bucket.Clear();
                bucketLength = 0;
            }
            bucket.Add(parameter);
            bucketLength += parameter.Length;
        }
        if (bucket.Count > 0)
        {
            buckets.Add([.. bucket]);
        }
        foreach (var parameter in module.Parameters())
        {
            group.Broadcast(parameter.AsSpan(), 0);
        }
        BroadcastBuffers();
        Train(module.Training);
    }

    /// <summary>The replica this rank trains.</summary>
    public Module Module { get; }

    /// <summary>The ranks that train together.</summary>
    public ProcessGroup Group { get; }

    /// <summary>The number of all-reduce calls <see cref="SynchronizeGradients"/> makes.</summary>
    public int BucketCount => buckets.Count;

    /// <summary>The replica's output; in training with broadcastBuffers, after copying rank 0's buffers (a collective).</summary>
    public override Tensor Forward(Tensor input)
    {
        if (Training && broadcastBuffers)
        {
            BroadcastBuffers();
        }
        return Module.Forward(input);
    }

    /// <summary>
    /// Replaces every parameter's gradient by its mean over the ranks (a collective; call it on every rank after the
    /// backward and before the optimizer step). A missing gradient counts as zeros and is created.
    /// </summary>
    public void SynchronizeGradients()
    {
        foreach (var bucket in buckets)
        {
            var flat = new float[bucket.Sum(p => p.Length)];
            int offset = 0;
            foreach (var parameter in bucket)
            {
                parameter.Grad?.AsSpan().CopyTo(flat.AsSpan(offset, parameter.Length));
                offset += parameter.Length;
            }
            Group.AllReduce(flat, ReduceOp.Mean);
            offset = 0;
            foreach (var parameter in bucket)
            {
                parameter.Grad ??= Tensor.Zeros(parameter.Shape);
                flat.AsSpan(offset, parameter.Length).CopyTo(parameter.Grad.AsSpan());
                offset += parameter.Length;
            }
        }
    }

    private void BroadcastBuffers()
    {
        foreach (var (_, buffer) in Module.NamedBuffers())
        {
            Group.Broadcast(buffer.AsSpan(), 0);
        }
    }
}
