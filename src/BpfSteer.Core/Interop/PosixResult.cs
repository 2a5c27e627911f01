namespace BpfSteer.Interop;

/// <summary>
/// The result of a native call: a non-negative value, or a negated errno. Pairs of methods use it as
/// <c>TryX()</c> (returns the result) and <c>X()</c> (throws through <see cref="ErrnoMap"/>).
/// </summary>
internal readonly struct PosixResult
{
    public PosixResult(long value) => Value = value;

    /// <summary>The value on success, or <c>-errno</c>.</summary>
    public long Value { get; }

    public bool IsSuccess => Value >= 0;

    public int Errno => IsSuccess ? 0 : (int)-Value;

    public int IntValue => checked((int)Value);

    public static PosixResult FromErrno(int errno) => new(-errno);

    /// <summary>Turns <c>-1</c> plus the last P/Invoke errno into a result.</summary>
    public static PosixResult FromReturn(long ret)
        => ret >= 0 ? new PosixResult(ret) : FromErrno(System.Runtime.InteropServices.Marshal.GetLastPInvokeError());

    /// <summary>Throws the mapped exception when the call failed; <paramref name="operation"/> names what was tried.</summary>
    public PosixResult ThrowOnError(string operation, string? setting = null)
    {
        if (!IsSuccess)
        {
            throw ErrnoMap.ToException(Errno, operation, setting);
        }
        return this;
    }

    public override string ToString() => IsSuccess ? Value.ToString() : $"errno {Errno} ({Libc.StrError(Errno)})";
}
