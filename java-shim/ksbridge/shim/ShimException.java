package ksbridge.shim;

/**
 * The one exception the shim throws across JNI. Its message is
 * {@code KIND|detail}; the Rust side maps KIND to a typed error.
 */
public final class ShimException extends Exception {
    private static final long serialVersionUID = 1L;

    public ShimException(String kind, String detail, Throwable cause) {
        super(kind + "|" + detail, cause);
    }

    public ShimException(String kind, String detail) {
        this(kind, detail, null);
    }

    /** {@code Class: message} of the innermost cause, the part worth showing. */
    static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String m = root.getMessage();
        String top = t == root ? "" : t.getClass().getName() + " <- ";
        return top + root.getClass().getName() + (m == null ? "" : ": " + m);
    }
}
