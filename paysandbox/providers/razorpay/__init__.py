"""Razorpay: Orders, Payments (S2S UPI collect), Refunds and webhooks."""
