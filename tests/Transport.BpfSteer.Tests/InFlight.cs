namespace Transport.BpfSteer.Tests;

/// <summary>Requests that reached the /delay handler of a <see cref="TestApp"/>.</summary>
public sealed class InFlight
{
    public int Started;
}
