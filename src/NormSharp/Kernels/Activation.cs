using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormSharp.Kernels;

/// <summary>
/// ReLU forward and backward as single vector passes, threaded. The forward writes y = max(x, 0) (NaN stays NaN,
/// −0 gives +0, as TensorPrimitives.Max and PyTorch's relu) and a bit mask of x &gt; 0, one bit an element; the backward
/// reads only that mask: gradInput = bit ? gradOutput : 0 (PyTorch's threshold_backward on the result: x &gt; 0 exactly
/// where y &gt; 0, and a NaN gives 0). Keeping 1/32 of the output's bytes for the backward instead of the output
/// saves one full read in it. <see cref="SimdWidth.Scalar"/> is the readable reference.
/// </summary>
/// <remarks>Mask layout: element i is bit i % 8 of byte i / 8 (<see cref="MaskBytes"/> bytes in all).</remarks>
internal static unsafe class Activation
{
    /// <summary>Bytes of the positive mask of <paramref name="length"/> elements.</summary>
    public static int MaskBytes(int length) => (length + 7) / 8;

    // input, output: [length]; positive: [MaskBytes(length)]
    public static void ReluForward(ReadOnlySpan<float> input, Span<float> output, Span<byte> positive, SimdWidth width = SimdWidth.Auto)
    {
        CheckLengths(input.Length, output.Length, positive.Length);
        var resolved = Simd.Resolve(width);
        fixed (float* x = input, y = output)
        fixed (byte* mask = positive)
        {
            var (px, py, pm) = ((nint)x, (nint)y, (nint)mask);
            Elementwise.ForChunks(input.Length, (start, count) =>
            {
                // Chunks start at multiples of 8 elements (ChunkLength is), so each owns whole mask bytes.
                float* xs = (float*)px + start, ys = (float*)py + start;
                byte* ms = (byte*)pm + start / 8;
                int done = resolved switch
                {
                    SimdWidth.Vector512 => Forward<Vector512<float>, Mask512>(xs, ys, ms, count),
                    SimdWidth.Vector256 => Forward<Vector256<float>, Mask256>(xs, ys, ms, count),
                    _ => 0,
                };
                ForwardScalar(xs, ys, ms, done, count);
            });
        }
    }

    // positive: [MaskBytes(length)]; gradOutput, gradInput: [length]
    public static void ReluBackward(ReadOnlySpan<byte> positive, ReadOnlySpan<float> gradOutput, Span<float> gradInput, SimdWidth width = SimdWidth.Auto)
    {
        CheckLengths(gradOutput.Length, gradInput.Length, positive.Length);
        fixed (float* dy = gradOutput)
        {
            Backward(positive, dy, 0, gradInput, width);
        }
    }

    /// <summary>The same for a gradient whose every element is <paramref name="gradOutput"/> (of a full sum): no gradient is read.</summary>
    // positive: [MaskBytes(length)]; gradInput: [length]
    public static void ReluBackward(ReadOnlySpan<byte> positive, float gradOutput, Span<float> gradInput, SimdWidth width = SimdWidth.Auto)
    {
        CheckLengths(gradInput.Length, gradInput.Length, positive.Length);
        Backward(positive, null, gradOutput, gradInput, width);
    }

    private static void CheckLengths(int first, int second, int maskBytes)
    {
        if (first != second || maskBytes != MaskBytes(first))
        {
            throw new ArgumentException(
                $"ReLU kernels need two float spans of one length and a mask of (length + 7) / 8 bytes; got {first} and {second} floats and {maskBytes} mask bytes (expected {MaskBytes(first)}).");
        }
    }

    // gradOutput null: every element of the gradient is `value`.
    private static void Backward(ReadOnlySpan<byte> positive, float* gradOutput, float value, Span<float> gradInput, SimdWidth width)
    {
        var resolved = Simd.Resolve(width);
        fixed (byte* mask = positive)
        fixed (float* dx = gradInput)
        {
            var (pm, pdy, pdx) = ((nint)mask, (nint)gradOutput, (nint)dx);
            Elementwise.ForChunks(gradInput.Length, (start, count) =>
            {
                byte* ms = (byte*)pm + start / 8;
                float* dys = pdy == 0 ? null : (float*)pdy + start, dxs = (float*)pdx + start;
                int done = resolved switch
                {
                    SimdWidth.Vector512 => Backward<Vector512<float>, Mask512>(ms, dys, value, dxs, count),
                    SimdWidth.Vector256 => Backward<Vector256<float>, Mask256>(ms, dys, value, dxs, count),
                    _ => 0,
                };
                BackwardScalar(ms, dys, value, dxs, done, count);
            });
        }
    }

    // The reference, and the tail of the vector loops: elements [from, length), from a multiple of 8.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardScalar(float* input, float* output, byte* positive, int from, int length)
    {
        for (int i = from; i < length; i += 8)
        {
            int bits = 0;
            for (int k = 0; k < Math.Min(8, length - i); k++)
            {
                float x = input[i + k];
                output[i + k] = x <= 0 ? 0 : x;   // NaN fails the test and stays
                bits |= x > 0 ? 1 << k : 0;
            }
            positive[i / 8] = (byte)bits;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardScalar(byte* positive, float* gradOutput, float value, float* gradInput, int from, int length)
    {
        for (int i = from; i < length; i++)
        {
            bool passes = (positive[i / 8] & (1 << (i % 8))) != 0;
            gradInput[i] = passes ? (gradOutput is null ? value : gradOutput[i]) : 0;
        }
    }

    // Whole vectors of [0, length); returns how many elements it did (a multiple of the vector width).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Forward<TVector, TMask>(float* input, float* output, byte* positive, int length)
        where TVector : struct
        where TMask : IMaskOps<TVector>
    {
        int i = 0;
        for (; i <= length - TMask.Count; i += TMask.Count)
        {
            var x = TMask.Load(input + i);
            TMask.Store(output + i, TMask.Relu(x));
            TMask.StoreBits(positive + i / 8, TMask.PositiveBits(x));
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Backward<TVector, TMask>(byte* positive, float* gradOutput, float value, float* gradInput, int length)
        where TVector : struct
        where TMask : IMaskOps<TVector>
    {
        int i = 0;
        if (gradOutput is null)
        {
            var uniform = TMask.Broadcast(value);
            for (; i <= length - TMask.Count; i += TMask.Count)
            {
                TMask.Store(gradInput + i, TMask.Select(TMask.LoadBits(positive + i / 8), uniform));
            }
            return i;
        }
        for (; i <= length - TMask.Count; i += TMask.Count)
        {
            TMask.Store(gradInput + i, TMask.Select(TMask.LoadBits(positive + i / 8), TMask.Load(gradOutput + i)));
        }
        return i;
    }

    /// <summary>The vector operations of the ReLU kernels at one width (8 or 16 lanes: one or two mask bytes a vector).</summary>
    private interface IMaskOps<TVector>
        where TVector : struct
    {
        static abstract int Count { get; }

        static abstract TVector Load(float* source);

        static abstract void Store(float* destination, TVector value);

        static abstract TVector Broadcast(float value);

        /// <summary>x ≤ 0 ? +0 : x per lane (NaN stays).</summary>
        static abstract TVector Relu(TVector x);

        /// <summary>Bit k set where lane k is &gt; 0.</summary>
        static abstract uint PositiveBits(TVector x);

        static abstract void StoreBits(byte* destination, uint bits);

        static abstract uint LoadBits(byte* source);

        /// <summary>Lane k: bit k set ? value : 0.</summary>
        static abstract TVector Select(uint bits, TVector value);
    }

    private readonly struct Mask256 : IMaskOps<Vector256<float>>
    {
        private static readonly Vector256<int> LaneBits = Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128);

        public static int Count => Vector256<float>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(float* source) => Vector256.Load(source);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(float* destination, Vector256<float> value) => value.Store(destination);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Relu(Vector256<float> x) =>
            Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, Vector256<float>.Zero), Vector256<float>.Zero, x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static uint PositiveBits(Vector256<float> x) => Vector256.GreaterThan(x, Vector256<float>.Zero).ExtractMostSignificantBits();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StoreBits(byte* destination, uint bits) => *destination = (byte)bits;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static uint LoadBits(byte* source) => *source;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Select(uint bits, Vector256<float> value)
        {
            var set = Vector256.Equals(Vector256.Create((int)bits) & LaneBits, LaneBits).AsSingle();
            return value & set;
        }
    }

    private readonly struct Mask512 : IMaskOps<Vector512<float>>
    {
        private static readonly Vector512<int> LaneBits =
            Vector512.Create(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768);

        public static int Count => Vector512<float>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(float* source) => Vector512.Load(source);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(float* destination, Vector512<float> value) => value.Store(destination);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Relu(Vector512<float> x) =>
            Vector512.ConditionalSelect(Vector512.LessThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.Zero, x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static uint PositiveBits(Vector512<float> x) => (uint)Vector512.GreaterThan(x, Vector512<float>.Zero).ExtractMostSignificantBits();

        // Two bytes, little-endian: lanes 0-7 in the first, as the byte-per-element layout wants.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void StoreBits(byte* destination, uint bits) => Unsafe.WriteUnaligned(destination, (ushort)bits);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static uint LoadBits(byte* source) => Unsafe.ReadUnaligned<ushort>(source);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Select(uint bits, Vector512<float> value)
        {
            var set = Vector512.Equals(Vector512.Create((int)bits) & LaneBits, LaneBits).AsSingle();
            return value & set;
        }
    }
}
