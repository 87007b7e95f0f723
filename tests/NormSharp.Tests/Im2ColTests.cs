using NormSharp.Kernels;

namespace NormSharp.Tests;

public class Im2ColTests
{
    // H, W, kH, kW, sH, sW, pH, pW, dH, dW
    public static TheoryData<int, int, int, int, int, int, int, int, int, int> Windows => new()
    {
        { 5, 6, 3, 3, 1, 1, 0, 0, 1, 1 },
        { 5, 6, 3, 3, 1, 1, 1, 1, 1, 1 },
        { 7, 9, 3, 2, 2, 3, 1, 2, 1, 1 },
        { 8, 7, 3, 3, 1, 2, 2, 3, 2, 2 },
        { 4, 4, 1, 1, 1, 1, 0, 0, 1, 1 },
        { 3, 3, 3, 3, 2, 2, 3, 3, 1, 1 },   // padding larger than the image reach: whole rows of zeros
        { 1, 17, 1, 5, 1, 4, 0, 2, 1, 3 },
        { 3, 40, 3, 3, 1, 1, 0, 0, 1, 1 },   // rows wider than the element-by-element limit: span copies
        { 3, 40, 3, 3, 1, 1, 1, 1, 1, 1 },
        { 3, 20, 3, 3, 1, 1, 1, 1, 1, 1 },   // 17-32 outputs a row: two masked vectors on AVX-512
        { 4, 24, 3, 3, 1, 1, 0, 2, 1, 2 },   // dilated columns
        { 2, 16, 3, 5, 1, 1, 1, 2, 1, 1 },   // exactly one vector a row
        { 6, 7, 3, 3, 1, 1, 2, 2, 2, 2 },   // dilated
        { 6, 6, 5, 5, 1, 1, 2, 2, 1, 1 },
        { 5, 6, 3, 1, 1, 1, 1, 0, 1, 1 },   // 3 × 1
        { 3, 2, 3, 5, 1, 1, 1, 2, 1, 1 },   // taps entirely left or right of the image
        { 2, 4, 5, 3, 1, 1, 2, 1, 1, 1 },   // taps entirely above or below the image
        { 4, 37, 3, 3, 2, 2, 1, 1, 1, 1 },   // stride 2, 19 outputs a row
        { 3, 64, 3, 3, 2, 2, 1, 1, 1, 1 },   // stride 2, 32 outputs a row
        { 3, 50, 3, 3, 2, 2, 2, 2, 2, 2 },   // stride 2, dilated
        { 5, 40, 1, 1, 2, 2, 0, 0, 1, 1 },   // 1x1, stride 2
    };

    [Theory]
    [MemberData(nameof(Windows))]
    public void Unfold_matches_definition(
        int height, int width, int kernelHeight, int kernelWidth, int strideHeight, int strideWidth,
        int paddingHeight, int paddingWidth, int dilationHeight, int dilationWidth)
    {
        const int channels = 3;
        var window = new Window2d(height, width, kernelHeight, kernelWidth, strideHeight, strideWidth, paddingHeight, paddingWidth, dilationHeight, dilationWidth);
        int outH = window.OutHeight, outW = window.OutWidth, rows = channels * kernelHeight * kernelWidth, columnsLength = rows * outH * outW;
        var generator = new Generator(height * 31 + width);
        var image = new float[channels * height * width];
        generator.FillNormal(image);
        var columns = new float[columnsLength];
        columns.AsSpan().Fill(float.NaN);   // every element must be written
        Im2Col.Unfold(image, channels, window, columns);

        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < kernelHeight; i++)
            {
                for (int j = 0; j < kernelWidth; j++)
                {
                    for (int oy = 0; oy < outH; oy++)
                    {
                        for (int ox = 0; ox < outW; ox++)
                        {
                            int iy = oy * strideHeight - paddingHeight + i * dilationHeight;
                            int ix = ox * strideWidth - paddingWidth + j * dilationWidth;
                            float expected = iy >= 0 && iy < height && ix >= 0 && ix < width ? image[(c * height + iy) * width + ix] : 0f;
                            Assert.Equal(expected, columns[(((c * kernelHeight + i) * kernelWidth + j) * outH + oy) * outW + ox]);
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void Buffers_too_short_are_refused()
    {
        var window = new Window2d(4, 4, 3, 3, 1, 1, 1, 1);
        var error = Assert.Throws<ArgumentException>(() => Im2Col.Unfold(new float[16], 1, window, new float[143]));
        Assert.Contains("an image of 16 floats and columns of 144; got 16 and 143", error.Message);
    }

    [Theory]
    [InlineData(0, 1, 5, 5, 0, 5)]
    [InlineData(-2, 1, 5, 5, 2, 5)]
    [InlineData(2, 1, 5, 5, 0, 3)]
    [InlineData(-3, 2, 6, 5, 2, 5)]
    [InlineData(1, 3, 4, 9, 0, 1)]
    [InlineData(7, 1, 4, 3, 0, 0)]
    public void Valid_range_covers_exactly_the_in_image_taps(int offset, int stride, int size, int outSize, int start, int end)
    {
        Assert.Equal((start, end), Window2d.ValidRange(offset, stride, size, outSize));
        for (int o = 0; o < outSize; o++)
        {
            int position = o * stride + offset;
            Assert.Equal(position >= 0 && position < size, o >= start && o < end);
        }
    }
}
