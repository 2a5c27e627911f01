namespace Transport.BpfSteer.Tests;

/// <summary>Open descriptors of this process (/proc/self/fd), for leak checks.</summary>
public static class FdCount
{
    public static int Current() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>Waits (bounded) for the count to come back to at most <paramref name="baseline"/>; returns the last count.</summary>
    public static async Task<int> SettleAsync(int baseline, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var count = Current();
        while (count > baseline && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            count = Current();
        }
        return count;
    }
}
