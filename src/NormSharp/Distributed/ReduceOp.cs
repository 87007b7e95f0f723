namespace NormSharp.Distributed;

/// <summary>How <see cref="ProcessGroup.AllReduce(Span{float}, ReduceOp)"/> combines the ranks' values, element by element.</summary>
public enum ReduceOp
{
    /// <summary>The sum over ranks (PyTorch's <c>ReduceOp.SUM</c>).</summary>
    Sum,

    /// <summary>The sum over ranks divided by <see cref="ProcessGroup.WorldSize"/> (PyTorch's <c>ReduceOp.AVG</c>).</summary>
    Mean,
}
