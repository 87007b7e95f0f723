using NormSharp.Distributed;

namespace NormSharp.Distributed.Tests;

/// <summary>DistributedSampler against PyTorch's rule: one seeded permutation per epoch, padded, strided by rank.</summary>
public class DistributedSamplerTests
{
    [Theory]
    [InlineData(10, 3, false)]
    [InlineData(10, 3, true)]
    [InlineData(12, 4, false)]
    [InlineData(2, 3, false)]
    public void The_ranks_take_equal_strided_shares_of_one_permutation(int count, int replicas, bool dropLast)
    {
        var samplers = Enumerable.Range(0, replicas).Select(r => new DistributedSampler(count, replicas, r, seed: 5, dropLast: dropLast)).ToArray();
        int expectedCount = dropLast ? count / replicas : (count + replicas - 1) / replicas;
        var shares = samplers.Select(s => s.Indices()).ToArray();
        Assert.All(shares, share => Assert.Equal(expectedCount, share.Length));
        var permutation = new Generator(5).Permutation(count);
        for (int position = 0; position < expectedCount * replicas; position++)
        {
            Assert.Equal(permutation[position % count], shares[position % replicas][position / replicas]);
        }
        if (!dropLast)
        {
            Assert.Equal(Enumerable.Range(0, count), shares.SelectMany(s => s).Distinct().Order());
        }
    }

    [Fact]
    public void Each_epoch_has_its_own_order_and_no_shuffle_keeps_the_data_order()
    {
        var sampler = new DistributedSampler(50, 2, 1, seed: 3);
        var first = sampler.Indices();
        Assert.Equal(first, sampler.Indices());
        sampler.SetEpoch(1);
        Assert.NotEqual(first, sampler.Indices());
        Assert.Equal([1, 3, 5, 7, 9], new DistributedSampler(10, 2, 1, shuffle: false).Indices());
    }

    [Fact]
    public void A_rank_outside_the_replicas_is_refused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 2, 2));
        Assert.Contains("rank must be in [0, 1] for 2 replicas", error.Message, StringComparison.Ordinal);
    }
}
