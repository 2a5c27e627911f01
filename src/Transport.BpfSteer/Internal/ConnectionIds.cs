namespace BpfSteer.Transport.Internal;

/// <summary>Connection ids in Kestrel's style: 13 base-32 characters of a process-wide counter seeded from the clock.</summary>
internal static class ConnectionIds
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    private static long s_last = DateTime.UtcNow.Ticks;

    public static string Next()
    {
        var id = Interlocked.Increment(ref s_last);
        return string.Create(13, id, static (span, value) =>
        {
            for (var i = 12; i >= 0; i--)
            {
                span[i] = Alphabet[(int)(value & 31)];
                value >>= 5;
            }
        });
    }
}
