namespace NormSharp.Bench;

/// <summary>
/// The bandwidth yardstick: a vectorized copy of <c>bytes</c> bytes between two buffers, split across all
/// cores (as the kernels are). A copy of S bytes moves 2S bytes (read S, write S).
/// </summary>
internal sealed class CopyRoofline
{
    private readonly float[] source;
    private readonly float[] destination;
    private readonly int chunks;

    public CopyRoofline(long bytes)
    {
        int length = (int)Math.Max(1, bytes / sizeof(float));
        source = GC.AllocateUninitializedArray<float>(length, pinned: true);
        destination = GC.AllocateUninitializedArray<float>(length, pinned: true);
        source.AsSpan().Fill(1f);
        destination.AsSpan().Clear();
        // Small buffers are copied on one thread: splitting a few KiB costs more than it saves.
        chunks = length * sizeof(float) >= 1 << 20 ? Environment.ProcessorCount : 1;
    }

    public void Run()
    {
        if (chunks == 1)
        {
            source.AsSpan().CopyTo(destination);
            return;
        }
        Parallel.For(0, chunks, chunk =>
        {
            int start = (int)((long)source.Length * chunk / chunks);
            int end = (int)((long)source.Length * (chunk + 1) / chunks);
            source.AsSpan(start, end - start).CopyTo(destination.AsSpan(start, end - start));
        });
    }
}
